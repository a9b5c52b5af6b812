// Package policies embeds the shipped Rego rules and the image catalog so
// that `authz serve` and `authz check` work without any policy files on disk.
package policies

import "embed"

// FS holds the shipped policies: every rule family with its tests and the
// catalog data. The engine skips *_test.rego files when it compiles.
//
//go:embed catalog daemon healthcheck project sidecar stack
var FS embed.FS

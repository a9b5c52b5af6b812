// Package rego embeds the shared Rego library: the decision entrypoint
// (data.hardened.main.decision, main.rego) and the helpers under lib/
// (packages hardened.lib.*) that every rule family imports.
package rego

import "embed"

// FS holds main.rego and lib/ with their tests and the shared test fixtures
// (fixtures_test.rego). The engine skips *_test.rego files when it compiles.
// It also holds schemas/input.json, the input document's JSON Schema, which
// the engine type-checks every rule against (input_schema.rego).
//
//go:embed *.rego lib schemas
var FS embed.FS

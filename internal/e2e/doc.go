// Package e2e holds the end-to-end suite of hardened-authz: it runs the real
// `authz serve` plugin in front of a private dockerd and drives that daemon
// with the docker CLI and docker-compose, on images built locally without any
// registry.
//
// The suite is behind the `e2e` build tag so `go test ./...` stays hermetic:
//
//	go test -tags e2e -count=1 -v ./internal/e2e/...
//
// It needs root, dockerd, docker, docker-compose and busybox-static, and it
// fails (never skips) when one of them is missing. .ci/run installs them.
package e2e

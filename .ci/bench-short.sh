#!/usr/bin/env bash
# Short mode of the benchmarks, for CI: every Go benchmark runs once, and
# `authz bench` loads a freshly started `authz serve` (no daemon) for about
# 2 s per kind. It checks that the benchmarks run and that no call fails;
# it has no thresholds, because numbers on a shared CI machine are noise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tmp=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every package with a benchmark, every benchmark once, except the
# projects of hundreds to 2,000 services (internal/check's LargeProject,
# cmd/authz's CheckProcess/services-2000): each takes tens of seconds on
# 2 cores and runs outside the short mode (see docs/performance.md).
long='^\./(cmd/authz|internal/check)$'
pkgs=$(grep -rl --include='*_test.go' '^func Benchmark' . | xargs -n1 dirname | sort -u | grep -Ev "$long")
# shellcheck disable=SC2086 # one argument per package
go test -run '^$' -bench . -benchtime 1x -benchmem $pkgs
go test -run '^$' -bench 'Corpus' -benchtime 1x -benchmem ./internal/check
go test -run '^$' -bench 'CheckProcess/seed' -benchtime 1x ./cmd/authz

go build -o "$tmp/authz" ./cmd/authz
"$tmp/authz" serve --socket "$tmp/p.sock" --state-dir "" --docker-host unix:///nonexistent --log-level error &
pid=$!
for _ in $(seq 1 300); do
	[ -S "$tmp/p.sock" ] && break
	kill -0 "$pid" 2>/dev/null || { echo "authz serve exited"; exit 1; }
	sleep 0.1
done
# Exits 1 if any call, to the plugin or to the allow-all floor, failed.
"$tmp/authz" bench --socket "$tmp/p.sock" --kind ping,inspect,create-allow,create-deny,mix \
	--duration 1s --warmup 200ms --concurrency 16

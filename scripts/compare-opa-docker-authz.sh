#!/usr/bin/env bash
# compare-opa-docker-authz.sh PEER_BIN [POLICY_FILE] [authz bench flags...]
#
# Loads opa-docker-authz (github.com/open-policy-agent/opa-docker-authz,
# built by you: PEER_BIN) and hardened-authz with the identical `authz
# bench` load, each against the same in-process allow-all floor, and prints
# both reports.
#
# The peer runs as its users run it for speed: in config mode
# (-config-file), its policy built into a bundle with `opa build` and loaded
# from a file:// resource, so it evaluates a prepared query. POLICY_FILE is
# that policy (default: scripts/opa-docker-authz/hardened.rego, the by-name
# rules a user would write for this job); hardened-authz runs its embedded
# policies. Both plugins serve sockets in a temporary directory and are
# stopped on exit, also on failure. hardened-authz asks the daemon at
# $DOCKER_HOST for image facts: point it at a daemon that has the images
# the load names (dhi.io/curl:8-debian13-dev, dhi.io/node:25-debian13-sfw-ent-dev,
# busybox), as the e2e suite's does. Without DOCKER_HOST it has no daemon,
# cannot index images, and refuses every create with a healthcheck (HA092).
# Example:
#   scripts/compare-opa-docker-authz.sh ~/bin/opa-docker-authz \
#     --kind create-allow,create-deny,mix --concurrency 16 --duration 5s
set -euo pipefail

if [ $# -lt 1 ]; then
	sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
peer_bin=$1
shift
cd "$(dirname "${BASH_SOURCE[0]}")/.."
policy=scripts/opa-docker-authz/hardened.rego
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	policy=$1
	shift
fi
[ -x "$peer_bin" ] || { echo "$peer_bin: not an executable: build opa-docker-authz first (see docs/performance.md)" >&2; exit 2; }
[ -r "$policy" ] || { echo "$policy: cannot read the peer's policy" >&2; exit 2; }

tmp=$(mktemp -d)
peer_sock="$tmp/opa-docker-authz.sock"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_socket() {
	local sock=$1 pid=$2 i
	for i in $(seq 1 300); do
		[ -S "$sock" ] && return 0
		kill -0 "$pid" 2>/dev/null || { echo "plugin for $sock exited" >&2; return 1; }
		sleep 0.1
	done
	echo "no socket at $sock after 30 s" >&2
	return 1
}

go build -o "$tmp/authz" ./cmd/authz

# The peer's policy as a bundle, loaded once and prepared, as in production.
mkdir "$tmp/bundle"
cp "$policy" "$tmp/bundle/policy.rego"
go tool opa build -o "$tmp/bundle.tar.gz" "$tmp/bundle"
cat >"$tmp/peer.json" <<JSON
{"bundles": {"authz": {"resource": "file://$tmp/bundle.tar.gz"}}}
JSON
# An absolute -plugin-name is the peer's socket path.
"$peer_bin" -plugin-name "$peer_sock" -config-file "$tmp/peer.json" -quiet >"$tmp/peer.log" 2>&1 &
pids+=($!)
wait_socket "$peer_sock" "${pids[-1]}" || { cat "$tmp/peer.log" >&2; exit 1; }

"$tmp/authz" serve --socket "$tmp/hardened-authz.sock" --state-dir "" \
	--docker-host "${DOCKER_HOST:-unix:///nonexistent}" --log-level error >"$tmp/serve.log" 2>&1 &
pids+=($!)
wait_socket "$tmp/hardened-authz.sock" "${pids[-1]}" || { cat "$tmp/serve.log" >&2; exit 1; }

rc=0
echo "== opa-docker-authz ($policy)"
"$tmp/authz" bench --socket "$peer_sock" "$@" || rc=1
echo
echo "== hardened-authz (embedded policies)"
"$tmp/authz" bench --socket "$tmp/hardened-authz.sock" "$@" || rc=1
exit "$rc"

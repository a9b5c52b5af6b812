#!/usr/bin/env bash
# compare-opa-docker-authz.sh PEER_BIN POLICY_FILE [authz bench flags...]
#
# Loads opa-docker-authz (github.com/open-policy-agent/opa-docker-authz,
# built by you: PEER_BIN) and hardened-authz with the identical `authz
# bench` load, each against the same in-process allow-all floor, and prints
# both reports. POLICY_FILE is the Rego policy the peer evaluates
# (-policy-file); hardened-authz runs its embedded policies.
#
# The peer serves on /run/docker/plugins/NAME.sock (go-plugins-helpers'
# fixed directory), so run as root or as a user who may write there. Both
# plugins are started without a daemon and stopped on exit, also on
# failure. Example:
#   scripts/compare-opa-docker-authz.sh ~/bin/opa-docker-authz example.rego \
#     --kind ping,inspect,create-deny,mix --duration 5s
set -euo pipefail

if [ $# -lt 2 ]; then
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
peer_bin=$1 policy=$2
shift 2
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tmp=$(mktemp -d)
name="authz-bench-peer-$$"
peer_sock="/run/docker/plugins/${name}.sock"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -f "$peer_sock"
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

"$peer_bin" -plugin-name "$name" -policy-file "$policy" -quiet >"$tmp/peer.log" 2>&1 &
pids+=($!)
wait_socket "$peer_sock" "${pids[-1]}" || { cat "$tmp/peer.log" >&2; exit 1; }

"$tmp/authz" serve --socket "$tmp/hardened-authz.sock" --state-dir "" \
	--docker-host unix:///nonexistent --log-level error >"$tmp/serve.log" 2>&1 &
pids+=($!)
wait_socket "$tmp/hardened-authz.sock" "${pids[-1]}" || { cat "$tmp/serve.log" >&2; exit 1; }

rc=0
echo "== opa-docker-authz ($policy)"
"$tmp/authz" bench --socket "$peer_sock" "$@" || rc=1
echo
echo "== hardened-authz (embedded policies)"
"$tmp/authz" bench --socket "$tmp/hardened-authz.sock" "$@" || rc=1
exit "$rc"

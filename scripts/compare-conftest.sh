#!/usr/bin/env bash
# compare-conftest.sh CONFTEST_BIN [DIR]
#
# Checks every compose project under DIR (default testdata/awesome-compose,
# 39 projects) one process per project, as a pre-commit hook or a CI job
# per project would: with conftest (CONFTEST_BIN, built by you, e.g.
# `go install github.com/open-policy-agent/conftest@v0.71.1`) and the
# two-rule policy scripts/conftest/compose.rego, then with `authz check
# --no-daemon`, and prints each tool's total wall time and its median per
# project. Verdicts differ by design (authz check runs every shipped rule
# on the project as compose loads it); this compares what each costs.
set -euo pipefail

if [ $# -lt 1 ]; then
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
conftest=$1
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=${2:-testdata/awesome-compose}
[ -x "$conftest" ] || { echo "$conftest: not an executable" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -o "$tmp/authz" ./cmd/authz

# The compose file of each project, as docker compose finds it.
projects=()
files=()
for p in "$dir"/*/; do
	for f in compose.yaml compose.yml docker-compose.yaml docker-compose.yml; do
		if [ -f "$p$f" ]; then
			projects+=("$p")
			files+=("$p$f")
			break
		fi
	done
done
[ "${#projects[@]}" -gt 0 ] || { echo "no compose projects under $dir" >&2; exit 1; }

# run NAME CMD...: the command once per project ({} is the project's
# directory, {f} its compose file); exit status 0 or 1 (findings) is fine.
run() {
	local name=$1 i t0 t1 rc
	shift
	: >"$tmp/$name.ms"
	for i in "${!projects[@]}"; do
		local args=()
		for a in "$@"; do
			a=${a//\{f\}/${files[$i]}}
			args+=("${a//\{\}/${projects[$i]}}")
		done
		t0=$(date +%s%N)
		rc=0
		"${args[@]}" >/dev/null 2>&1 || rc=$?
		t1=$(date +%s%N)
		if [ "$rc" -gt 1 ]; then
			echo "$name failed on ${projects[$i]} (exit $rc): ${args[*]}" >&2
			return 1
		fi
		echo $(((t1 - t0) / 1000000)) >>"$tmp/$name.ms"
	done
	sort -n "$tmp/$name.ms" | awk -v n="$name" '{a[NR]=$1; s+=$1} END {printf "%-9s %d projects  total %6d ms  median %4d ms  max %4d ms\n", n, NR, s, a[int((NR+1)/2)], a[NR]}'
}

"$conftest" --version | head -1
run conftest "$conftest" test --no-color --policy scripts/conftest "{f}"
run authz "$tmp/authz" check --no-daemon "{}"

#!/usr/bin/env bash
# Build docker compose v2 from the Go module proxy (no release download is
# reachable from CI) and install it as a docker CLI plugin, so `docker
# compose` works with the docker CLI on the machine.
#
# The binary is cached outside the repository, keyed by version; a rebuild
# costs about 6 minutes of CPU on 2 cores. `go install …@version` refuses the
# module because of its exclude directives, so a throwaway module requires it.
#
# Usage: .ci/compose-v2.sh   (prints the installed plugin's path)
set -euo pipefail

version=${COMPOSE_V2_VERSION:-v2.40.3}
toolchain=${COMPOSE_V2_TOOLCHAIN:-go1.26.10}
cache=${HARDENED_AUTHZ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hardened-authz}
bin="$cache/compose-$version/docker-compose"
plugin_dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins

if [ ! -x "$bin" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	echo "building docker compose $version with $toolchain (cached in $cache)" >&2
	(
		cd "$work"
		export GOTOOLCHAIN=$toolchain GOFLAGS=-mod=mod
		go mod init compose-v2-build >/dev/null 2>&1
		go get "github.com/docker/compose/v2/cmd@$version"
		mkdir -p "$(dirname "$bin")"
		go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" \
			-o "$bin.tmp" github.com/docker/compose/v2/cmd
		mv "$bin.tmp" "$bin"
	)
fi

mkdir -p "$plugin_dir"
install -m 0755 "$bin" "$plugin_dir/docker-compose"
echo "$plugin_dir/docker-compose"

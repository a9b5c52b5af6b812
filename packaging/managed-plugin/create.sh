#!/usr/bin/env bash
# Creates hardened-authz as a Docker managed plugin, without a registry.
#
#   packaging/managed-plugin/create.sh [OPTIONS] [NAME[:TAG]]
#
# NAME[:TAG] defaults to hardened-authz:latest. The script builds the
# static authz binary (CGO_ENABLED=0 go build -trimpath; needs Go and this
# source tree), or takes a prebuilt one (--binary) or the image the
# Dockerfile builds (--image), assembles the plugin's root filesystem (the
# binary and the CA certificates, nothing else), writes its config.json and
# runs `docker plugin create NAME[:TAG] DIR` against the daemon the docker
# CLI talks to ($DOCKER_HOST). Then:
#
#   docker plugin enable NAME[:TAG]
#   # /etc/docker/daemon.json: { "authorization-plugins": ["NAME:TAG"] }
#   kill -HUP $(pidof dockerd)    # or systemctl reload docker
#
# Options:
#   --binary FILE      use this static linux authz binary (also $AUTHZ_BINARY)
#   --image IMAGE      take the root filesystem from IMAGE, built from the
#                      Dockerfile (docker build -t IMAGE .)
#   --config-dir DIR   mount the host directory DIR read-only at
#                      /etc/hardened-authz in the plugin, for --policy and
#                      --exceptions files (AUTHZ_POLICY=/etc/hardened-authz/...);
#                      it must exist when the plugin is enabled
#   --dir DIR          assemble the plugin in DIR (kept) instead of a
#                      temporary directory
#   --no-create        assemble only (in --dir); do not run docker plugin create
#   -h, --help         show this help
#
# The plugin serves on /run/docker/plugins/hardened-authz.sock in its own
# root (dockerd's plugin socket directory), asks the daemon for image facts
# through the host's /var/run/docker.sock, keeps its image index cache in
# the plugin's persistent directory (propagatedMount /var/lib/hardened-authz,
# under /var/lib/docker/plugins/ID/propagated-mount on the host), runs in
# the host's network namespace (for --metrics-addr and policy bundle
# downloads) and logs to dockerd's log. Every `authz serve` flag is an
# environment setting, changed while the plugin is disabled:
#
#   docker plugin set NAME[:TAG] AUTHZ_MODE=warn AUTHZ_LOG_LEVEL=debug
#   docker plugin set NAME[:TAG] docker-socket.source=/run/other/docker.sock
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { echo "create.sh: $*" >&2; exit 2; }

binary=${AUTHZ_BINARY:-}
image=
config_dir=
dir=
create=1
name=
while [ $# -gt 0 ]; do
	case $1 in
	--binary) [ $# -ge 2 ] || die "--binary needs a file"; binary=$2; shift 2 ;;
	--binary=*) binary=${1#*=}; shift ;;
	--image) [ $# -ge 2 ] || die "--image needs an image"; image=$2; shift 2 ;;
	--image=*) image=${1#*=}; shift ;;
	--config-dir) [ $# -ge 2 ] || die "--config-dir needs a directory"; config_dir=$2; shift 2 ;;
	--config-dir=*) config_dir=${1#*=}; shift ;;
	--dir) [ $# -ge 2 ] || die "--dir needs a directory"; dir=$2; shift 2 ;;
	--dir=*) dir=${1#*=}; shift ;;
	--no-create) create=0; shift ;;
	-h | --help) usage; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) [ -z "$name" ] || die "one NAME[:TAG], not \"$name\" and \"$1\""; name=$1; shift ;;
	esac
done
[ -z "$binary" ] || [ -z "$image" ] || die "give --binary or --image, not both"
[ "$create" -eq 1 ] || [ -n "$dir" ] || die "--no-create needs --dir DIR to keep the plugin in"
name=${name:-hardened-authz}
# The characters of Docker's reference grammar; the daemon checks the rest.
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._/:-]*$ ]] || die "\"$name\" is not a plugin reference: NAME[:TAG], such as hardened-authz:latest"
# A reference without a tag is NAME:latest, as docker names the plugin.
last=${name##*/}
[[ $last == *:* ]] || name=$name:latest
if [ -n "$config_dir" ]; then
	[[ $config_dir == /* ]] || die "--config-dir $config_dir: give an absolute path on the daemon's host"
	[[ $config_dir != *'"'* && $config_dir != *\\* ]] || die "--config-dir $config_dir: quotes and backslashes are not supported"
fi

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -n "$dir" ]; then
	mkdir -p "$dir"
	[ -z "$(ls -A "$dir")" ] || die "--dir $dir is not empty: give an empty or new directory"
	work=$(cd "$dir" && pwd)
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/hardened-authz-plugin.XXXXXX")
fi
container=
cleanup() {
	local rc=$?
	if [ -n "$container" ]; then docker rm -f "$container" >/dev/null 2>&1 || true; fi
	if [ -z "$dir" ]; then rm -rf "$work"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rootfs=$work/rootfs
mkdir -p "$rootfs"
bin=$rootfs/usr/bin/authz
if [ -n "$image" ]; then
	echo "exporting the root filesystem of $image"
	container=$(docker create "$image" serve)
	docker export "$container" | tar -x -C "$rootfs"
	docker rm "$container" >/dev/null
	container=
	[ -x "$bin" ] || die "$image has no /usr/bin/authz: build it from the Dockerfile (docker build -t $image .)"
else
	mkdir -p "$rootfs/usr/bin"
	if [ -n "$binary" ]; then
		[ -f "$binary" ] && [ -x "$binary" ] || die "--binary $binary is not an executable file"
		cp "$binary" "$bin"
	else
		command -v go >/dev/null || die "go not found: install Go, or give a prebuilt binary with --binary FILE"
		echo "building the static authz binary"
		(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION:-dev}" -o "$bin" ./cmd/authz)
	fi
	# The plugin's root holds nothing else: a dynamically linked binary
	# would not find its loader there.
	if command -v ldd >/dev/null && ldd "$bin" 2>/dev/null | grep -q '=>'; then
		die "${binary:-the built binary} is dynamically linked: build it with CGO_ENABLED=0 go build -trimpath -o authz ./cmd/authz"
	fi
	# Certificates for HTTPS (policy bundles, decision log upload), when
	# this host has them where Go looks.
	for certs in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
		if [ -f "$certs" ]; then
			mkdir -p "$rootfs/etc/ssl/certs"
			cp "$certs" "$rootfs/etc/ssl/certs/ca-certificates.crt"
			break
		fi
	done
	mkdir -p "$rootfs/tmp"
	chmod 1777 "$rootfs/tmp"
	chmod 0755 "$rootfs/usr/bin/authz"
fi

# The plugin's settings: one for each `authz serve` flag the binary has
# (its help names the variable), except the ones the plugin's layout fixes
# on the command line below. AUTHZ_PLUGIN_NAME defaults to the name the
# plugin is created under, so that HA090 refuses to disable it by that
# name, another spelling of it or its ID.
fixed='^AUTHZ_(SOCKET|DOCKER_HOST|STATE_DIR|CHECK_ONLY)$'
vars=$("$bin" serve --help 2>/dev/null | grep -o '(env AUTHZ_[A-Z0-9_]*)' | tr -d '()' | sed 's/^env //' | grep -Ev "$fixed" || true)
if [ -z "$vars" ]; then
	# A binary for another architecture cannot run here: offer the basics.
	vars="AUTHZ_PLUGIN_NAME AUTHZ_MODE AUTHZ_EXCEPTIONS AUTHZ_POLICY AUTHZ_LOG_LEVEL AUTHZ_LOG_FORMAT AUTHZ_DECISION_LOG AUTHZ_MASK AUTHZ_METRICS_ADDR AUTHZ_DAEMON_TIMEOUT AUTHZ_SCAN_TIMEOUT AUTHZ_DECISION_TIMEOUT AUTHZ_MAX_EVALUATIONS AUTHZ_WATCH"
fi
env_json=
for v in $vars; do
	flag=$(echo "${v#AUTHZ_}" | tr 'A-Z_' 'a-z-')
	entry="{\"name\": \"$v\", \"description\": \"authz serve --$flag (see authz serve --help)\", \"settable\": [\"value\"]"
	if [ "$v" = AUTHZ_PLUGIN_NAME ]; then
		entry="$entry, \"value\": \"$name\""
	fi
	env_json="$env_json${env_json:+,
    }$entry}"
done

mounts="{
      \"name\": \"docker-socket\",
      \"description\": \"the Docker API socket the plugin asks for image facts\",
      \"source\": \"/var/run/docker.sock\",
      \"destination\": \"/var/run/docker.sock\",
      \"type\": \"bind\",
      \"options\": [\"rbind\"],
      \"settable\": [\"source\"]
    }"
if [ -n "$config_dir" ]; then
	mounts="$mounts, {
      \"name\": \"config\",
      \"description\": \"policies and exceptions (AUTHZ_POLICY, AUTHZ_EXCEPTIONS under /etc/hardened-authz)\",
      \"source\": \"$config_dir\",
      \"destination\": \"/etc/hardened-authz\",
      \"type\": \"bind\",
      \"options\": [\"rbind\", \"ro\"],
      \"settable\": [\"source\"]
    }"
fi

cat >"$work/config.json" <<JSON
{
  "description": "hardened-authz: Docker authorization plugin that denies healthchecks which cannot run in their image",
  "documentation": "https://github.com/hardened-authz/hardened-authz",
  "entrypoint": ["/usr/bin/authz", "serve",
    "--socket", "/run/docker/plugins/hardened-authz.sock",
    "--docker-host", "unix:///var/run/docker.sock",
    "--state-dir", "/var/lib/hardened-authz"],
  "workdir": "/",
  "interface": {
    "types": ["docker.authz/1.0"],
    "socket": "hardened-authz.sock"
  },
  "network": {"type": "host"},
  "propagatedMount": "/var/lib/hardened-authz",
  "mounts": [$mounts],
  "env": [
    $env_json
  ]
}
JSON
if command -v jq >/dev/null; then
	jq empty "$work/config.json" || die "wrote an invalid $work/config.json"
fi

if [ "$create" -eq 0 ]; then
	echo "assembled the plugin in $work (config.json and rootfs/)"
	exit 0
fi
docker plugin create "$name" "$work"
cat <<EOF2
created plugin $name. Next:
  docker plugin enable $name
  add "$name" to "authorization-plugins" in /etc/docker/daemon.json
  kill -HUP \$(pidof dockerd)    # or: systemctl reload docker
EOF2

package hardened.lib.process

import data.hardened.test.fixtures as fx

# The catalog entries of the dhi.io/curl tags, as hardened.lib.image.entry
# gives them (the tests set the entry itself, whatever the catalog holds).
_curl_dev := {"entrypoint": ["curl"], "cmd": ["--help"], "programs": {"curl": true, "sleep": true}}

_curl_runtime := {"entrypoint": ["curl"], "cmd": ["--help"], "programs": {"curl": true, "sleep": false}}

# _p(source, tag, ep, cmd): a container on dhi.io/curl:<tag> whose image
# facts came from source, with the request's (or merged) entrypoint and
# command.
_p(source, tag, ep, cmd) := object.union(
	fx.with_image(fx.run_create, object.union(fx.image("dhi.io/curl", tag), {"source": source})),
	{"container": {"image": sprintf("dhi.io/curl:%s", [tag]), "entrypoint": ep, "command": cmd}},
)

test_merged_argv_is_taken_as_is if {
	every source in ["index", "daemon"] {
		argv == ["curl", "--help"] with input as _p(source, "8", ["curl"], ["--help"]) with data.hardened.lib.image.entry as _curl_dev
		argv_source == "request" with input as _p(source, "8", ["curl"], ["--help"]) with data.hardened.lib.image.entry as _curl_dev

		# An inspected image with neither: nothing known, the catalog is
		# not asked (the image is what it is).
		not argv with input as _p(source, "8", [], []) with data.hardened.lib.image.entry as _curl_dev
	}
}

test_catalog_merge_as_dockerd_does if {
	cases := [
		# [request entrypoint, request command, effective argv]
		[[], [], ["curl", "--help"]],
		[[], ["-f", "http://x/"], ["curl", "-f", "http://x/"]],
		[["sleep", "infinity"], [], ["sleep", "infinity"]],
		# A request entrypoint drops the image's command.
		[["sleep"], ["infinity"], ["sleep", "infinity"]],
	]
	every c in cases {
		argv == c[2] with input as _p("catalog", "8-dev", c[0], c[1]) with data.hardened.lib.image.entry as _curl_dev
	}
	argv_source == "catalog" with input as _p("catalog", "8-dev", [], []) with data.hardened.lib.image.entry as _curl_dev
	argv_source == "request" with input as _p("catalog", "8-dev", ["sleep", "infinity"], []) with data.hardened.lib.image.entry as _curl_dev
}

test_catalog_without_entrypoint_or_cmd_is_unknown if {
	no_ep := {"cmd": ["--help"]}
	not argv with input as _p("catalog", "8", [], []) with data.hardened.lib.image.entry as no_ep
	not argv with input as _p("catalog", "8", [], ["x"]) with data.hardened.lib.image.entry as no_ep

	# Entrypoint known, command unknown, none in the request: unknown too.
	no_cmd := {"entrypoint": ["curl"]}
	not argv with input as _p("catalog", "8", [], []) with data.hardened.lib.image.entry as no_cmd
	argv == ["curl", "-V"] with input as _p("catalog", "8", [], ["-V"]) with data.hardened.lib.image.entry as no_cmd

	# Not in the catalog at all.
	not argv with input as _p("catalog", "8", [], []) with data.hardened.lib.image.entry as {}
}

test_exits_at_once if {
	every c in [
		[["curl"], ["--help"]],
		[["curl"], ["-fsS", "http://localhost:3000/"]],
		[["/usr/bin/wget"], ["-q", "http://x/"]],
		[["node"], ["--version"]],
		[[], ["nginx", "-V"]],
		[["app"], ["-h"]],
	] {
		exits_at_once with input as _p("daemon", "8", c[0], c[1])
	}
	exit_reason == "curl --help only prints and exits" with input as _p("daemon", "8", ["curl"], ["--help"])
	exit_reason == "curl makes one request and exits" with input as _p("daemon", "8", ["curl"], ["-f", "http://x/"])
}

test_does_not_exit if {
	every c in [
		[["sleep"], ["infinity"]],
		[["tail"], ["-f", "/dev/null"]],
		[["sh"], ["-c", "curl -f http://x/; sleep infinity"]],
		[["/app"], []],
		[["node"], ["server.js", "--help"]],
		[[], []],
	] {
		not exits_at_once with input as _p("daemon", "8", c[0], c[1])
	}
}

test_keep_alive_image if {
	# The runtime tag has no sleep: the keep-alive runs on the sidecar image.
	lacks_sleep with input as _p("catalog", "8", [], []) with data.hardened.lib.image.entry as _curl_runtime
	keep_alive_image == "dhi.io/curl:8-debian13-dev" with input as _p("catalog", "8", [], [])
		with data.hardened.lib.image.entry as _curl_runtime
		with data.hardened.lib.image.sidecar_image as "dhi.io/curl:8-debian13-dev"
	not lacks_sleep with input as _p("catalog", "8-dev", [], []) with data.hardened.lib.image.entry as _curl_dev
	keep_alive_image == "dhi.io/curl:8-dev" with input as _p("catalog", "8-dev", [], []) with data.hardened.lib.image.entry as _curl_dev

	# Unknown: the image is kept.
	keep_alive_image == "dhi.io/curl:8" with input as _p("catalog", "8", [], []) with data.hardened.lib.image.entry as {}
}

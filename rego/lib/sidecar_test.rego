package hardened.lib.sidecar

import data.hardened.test.fixtures as fx

# A keep-alive curl container (no compose labels unless named).
_c(ep, cmd, hc) := fx.with_hc(
	object.union(
		object.remove(fx.run_create, ["container"]),
		{"container": object.union(object.remove(fx.run_create.container, ["entrypoint", "command"]), {"entrypoint": ep, "command": cmd})},
	),
	hc,
)

_compose(service) := object.union(fx.compose_create, {"container": {
	"compose": {"service": service},
	"labels": {"com.docker.compose.service": service},
}})

_hc_none := {"form": "none", "inherited": false, "test": ["NONE"], "probe_url": ""}

test_keep_alive_forms if {
	every argv in [
		[["sleep", "infinity"], []],
		[["sleep", "INF"], []],
		[["/usr/bin/sleep"], ["infinity"]],
		[[], ["sleep", "86400"]],
		[["sleep", "2d"], []],
		[["sleep", "99999.5"], []],
		[["tail", "-f", "/dev/null"], []],
		[["tail", "-F", "/dev/null"], []],
		[["pause"], []],
		[[], ["/pause"]],
	] {
		keep_alive with input as _c(argv[0], argv[1], fx.hc_cmd_curl)
	}
}

test_not_keep_alive if {
	every argv in [
		[[], []],
		[["sleep"], []],
		[["sleep", "60"], []],
		[["sleep", "23h"], []],
		[["sleep", "abc"], []],
		[["tail", "-f", "/var/log/x"], []],
		[["pause", "now"], []],
		[["node"], ["server.js"]],
	] {
		not keep_alive with input as _c(argv[0], argv[1], fx.hc_cmd_curl)
	}
}

test_probes_endpoint if {
	probes_endpoint with input as _c(["sleep", "infinity"], [], fx.hc_cmd_curl)
	probes_endpoint with input as _c(["sleep", "infinity"], [], fx.hc_cmd(["/usr/bin/wget", "-q", "app:3000"]))
	probes_endpoint with input as _c(["sleep", "infinity"], [], fx.hc_cmd(["nc", "-z", "db", "5432"]))
	probes_endpoint with input as _c(["sleep", "infinity"], [], fx.hc_shell("curl -f app || exit 1"))
	probes_endpoint with input as _c(["sleep", "infinity"], [], fx.hc_cmd(["python3", "probe.py", "http://x/"]))
	not probes_endpoint with input as _c(["sleep", "infinity"], [], fx.hc_cmd(["pg_isready"]))
	not probes_endpoint with input as _c(["sleep", "infinity"], [], _hc_none)
}

test_is_sidecar_by_behaviour if {
	is_sidecar with input as _c(["sleep", "infinity"], [], fx.hc_cmd_curl)
	not is_sidecar with input as _c(["node"], [], fx.hc_cmd_curl)
	not is_sidecar with input as _c(["sleep", "infinity"], [], _hc_none)
	not is_sidecar with input as fx.compose_create
}

test_is_sidecar_by_name if {
	is_sidecar with input as _compose("app-health")
	is_sidecar with input as _compose("x-healthcheck")
	is_sidecar with input as fx.with_hc(_compose("db-health"), _hc_none)
	not is_sidecar with input as _compose("health")
	not is_sidecar with input as _compose("-health")
	not is_sidecar with input as _compose("app-healthy")

	# a docker run container name alone is not enough
	not is_sidecar with input as fx.run({"container": {"name": "web-health"}})
}

test_probes_localhost if {
	every u in ["http://localhost:3000/health", "http://127.0.0.1/", "https://[::1]:8443", "http://LocalHost?x=1"] {
		probes_localhost with input as _c(["sleep", "inf"], [], fx.hc_cmd(["curl", u]))
	}
	every u in ["http://app:3000/", "http://localhost.example/", "http://127.0.0.10/", "http://[::2]/", ""] {
		not probes_localhost with input as _c(["sleep", "inf"], [], fx.hc_cmd(["curl", u]))
	}
}

# With probe_loopback in the document (the normalizer always sets it), it
# decides alone: 0.0.0.0 is loopback, and a false field wins over a URL the
# fallback regex would match.
test_probes_localhost_uses_probe_loopback if {
	every u in ["http://0.0.0.0:3000/", "http://127.1/", "http://[0:0:0:0:0:0:0:1]/", "http://localhost./"] {
		probes_localhost with input as _c(["sleep", "inf"], [], _loopback(u, true))
		not probes_localhost with input as _c(["sleep", "inf"], [], fx.hc_cmd(["curl", u]))
	}
	not probes_localhost with input as _c(["sleep", "inf"], [], _loopback("http://localhost/", false))
	not probes_localhost with input as _c(["sleep", "inf"], [], _loopback("http://10.0.0.1/", false))
}

_loopback(u, b) := object.union(fx.hc_cmd(["curl", "-f", u]), {"probe_loopback": b})

test_app_name if {
	app_name == "app" with input as _compose("app-health")
	app_name == "x" with input as _compose("x-healthcheck")
	app_name == "my-api" with input as _compose("my-api-health")
	not app_name with input as _compose("probe")
	app_name == "web" with input as fx.run({"container": {"name": "web-health"}})
	not app_name with input as fx.run({"container": {"name": "probe"}})
	app_or_placeholder == "<app>" with input as fx.run({"container": {"name": ""}})
}

test_main_program_missing_ignores_runs_source if {
	inp := fx.with_image(_c(["sleep", "infinity"], [], fx.hc_cmd_curl), fx.image("dhi.io/curl", "8"))
	main_program == "sleep" with input as inp
	main_program_missing with input as inp
	not main_program_missing with input as fx.with_image(inp, fx.image("dhi.io/curl", "8-debian13-dev"))
	not main_program_missing with input as fx.with_image(inp, fx.image("registry.local/x", "1"))
	main_program == "/pause" with input as _c([], ["/pause"], fx.hc_cmd_curl)
}

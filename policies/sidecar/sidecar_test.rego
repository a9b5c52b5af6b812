package hardened.rules.sidecar

import data.hardened.test.fixtures as fx

_rules(d) := {v.rule | some v in d}

_one(d, id) := v if {
	vs := [v | some v in d; v.rule == id]
	count(vs) == 1
	v := vs[0]
}

# Every shipped rule of every family that fires (deny or warn). Operator
# families loaded beside the shipped ones (`opa test policies rego DIR`)
# may add their own; these tests only look at the shipped ones (HA...).
_all(inp) := r if {
	d := data.hardened.main.decision with input as inp
	r := {v.rule | some v in d.deny; startswith(v.rule, "HA")} | {v.rule | some v in d.warn; startswith(v.rule, "HA")}
}

_app_id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

# The seed's solution: compose service app-health on the curl -dev image,
# network_mode "service:app", sleep infinity, no memory limit.
seed_sidecar := {
	"source": "dockerd",
	"action": "container.create",
	"authz": {"plugin_name": "hardened-authz"},
	"request": {
		"method": "POST",
		"path": "/containers/create",
		"api_version": "1.41",
		"query": {"name": ["seed-app-health-1"]},
		"user": "",
		"auth_method": "",
		"user_agent": "docker-compose/1.29.2 docker-py/5.0.3 Linux/6.1.0",
	},
	"container": {
		"name": "seed-app-health-1",
		"compose": {"project": "seed", "service": "app-health"},
		"image": "dhi.io/curl:8-debian13-dev",
		"entrypoint": ["sleep", "infinity"],
		"command": [],
		"user": "",
		"path": ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"],
		"healthcheck": fx.hc_cmd_curl,
		"network": {"mode": "container", "target": _app_id, "container": {
			"found": true,
			"id": _app_id,
			"name": "seed-app-1",
			"image": "dhi.io/node:25-debian13-sfw-ent-dev",
			"running": true,
			"compose": {"project": "seed", "service": "app"},
		}},
		"ports": [],
		"memory_bytes": 0,
		"labels": {"com.docker.compose.project": "seed", "com.docker.compose.service": "app-health"},
	},
	"image": fx.image("dhi.io/curl", "8-debian13-dev"),
}

# The same sidecar from docker run --name web-health --network container:web.
run_sidecar := object.union(
	object.remove(seed_sidecar, ["container"]),
	{"request": {"query": {"name": ["web-health"]}, "user_agent": "Docker-Client/28.2.2 (linux)"}, "container": object.union(
		object.remove(seed_sidecar.container, ["compose", "labels", "name", "network"]),
		{"name": "web-health", "labels": {}, "network": {"mode": "container", "target": "web"}},
	)},
)

_sc(patch) := object.union(seed_sidecar, patch)

_run(patch) := object.union(run_sidecar, patch)

_own_network := {"container": {"network": {"mode": "network", "target": "seed_default"}}}

_no_ns(inp) := object.union(
	object.remove(inp, ["container"]),
	{"container": object.union(object.remove(inp.container, ["network"]), {"network": {"mode": "network", "target": "seed_default"}})},
)

_named(inp, name) := object.union(inp, {"container": {
	"compose": {"service": name},
	"labels": {"com.docker.compose.service": name},
}})

_argv(inp, ep, cmd) := object.union(
	object.remove(inp, ["container"]),
	{"container": object.union(object.remove(inp.container, ["entrypoint", "command"]), {"entrypoint": ep, "command": cmd})},
)

# ---------------------------------------------------------------------------
# The seed's sidecars
# ---------------------------------------------------------------------------

test_seed_solution_only_warns_ha008 if {
	count(deny) == 0 with input as seed_sidecar
	_rules(warn) == {"HA008"} with input as seed_sidecar
	_all(seed_sidecar) == {"HA008"}
	v := _one(warn, "HA008") with input as seed_sidecar
	v.severity == "warning"
	v.title == "Sidecar without a memory limit"
	v.message == `HA008: service "app-health" (image dhi.io/curl:8-debian13-dev) is a healthcheck sidecar without a memory limit; give it 32m.`
	contains(v.fix.compose, "  app-health:\n    deploy:\n      resources:\n        limits:\n          memory: 32M")
	not v.fix.docker_run
}

test_production_example_is_quiet if {
	inp := _sc({"container": {"memory_bytes": 33554432, "compose": {"service": "api-health"}}})
	_all(inp) == set()
}

test_ha008_docker_run if {
	v := _one(warn, "HA008") with input as run_sidecar
	startswith(v.message, `HA008: container "web-health" (image dhi.io/curl:8-debian13-dev)`)
	contains(v.fix.docker_run, "--memory 32m")
	not v.fix.compose
}

# ---------------------------------------------------------------------------
# HA003: localhost outside the app's namespace
# ---------------------------------------------------------------------------

test_ha003_no_network_mode if {
	inp := _no_ns(seed_sidecar)
	_rules(deny) == {"HA003"} with input as inp
	v := _one(deny, "HA003") with input as inp
	v.severity == "error"
	v.message == `HA003: service "app-health" (image dhi.io/curl:8-debian13-dev) is a healthcheck sidecar probing http://localhost:3000/health, but it does not share the network namespace of "app" (network mode "network"): localhost is the sidecar itself, so it would stay unhealthy forever.`
	contains(v.fix.compose, "  app-health:\n    network_mode: \"service:app\"")
	contains(v.fix.summary, `network_mode: "service:app"`)
	not v.fix.docker_run
}

# A swarm service has no network_mode "service:": the fix says so, and
# offers the interpreter probe or a sidecar service probing the app by name.
test_ha003_swarm_service if {
	inp := object.union(_run({"container": {"name": "shop_web-health", "network": {"mode": "default", "target": ""}}}), {
		"action": "service.create",
		"service": {"name": "shop_web-health", "stack": "shop"},
	})
	v := _one(deny, "HA003") with input as inp
	startswith(v.message, `HA003: service "shop_web-health" (image dhi.io/curl:8-debian13-dev)`)
	contains(v.fix.summary, `Swarm has no network_mode "service:"`)
	contains(v.fix.summary, "http://<service>:3000/")
	contains(v.fix.summary, `["CMD", "node", "-e", ...]`)
	not v.fix.compose
	not v.fix.docker_run
	v2 := _one(deny, "HA003") with input as object.union(inp, {"action": "service.update"})
	v2.fix == v.fix
}

test_ha003_docker_run if {
	inp := _run({"container": {"network": {"mode": "bridge", "target": ""}}})
	v := _one(deny, "HA003") with input as inp
	contains(v.fix.docker_run, "--network container:web ")
	contains(v.fix.docker_run, "--entrypoint sleep dhi.io/curl:8-debian13-dev infinity")
	not v.fix.compose
}

test_ha003_loopback_forms if {
	every u in ["http://127.0.0.1:8080/healthz", "https://[::1]:8443/", "http://LOCALHOST/", "http://localhost", "http://user@localhost:3000/"] {
		_one(deny, "HA003") with input as fx.with_hc(_no_ns(seed_sidecar), fx.hc_cmd(["curl", "-f", u]))
	}
}

# The normalizer's probe_loopback: 0.0.0.0 and the other spellings it
# knows are HA003 too, unless the sidecar shares a namespace.
test_ha003_probe_loopback if {
	every u in ["http://0.0.0.0:3000/", "http://127.1:3000/", "http://[::ffff:127.0.0.1]/", "http://ip6-localhost/"] {
		hc := object.union(fx.hc_cmd(["curl", "-f", u]), {"probe_loopback": true})
		v := _one(deny, "HA003") with input as fx.with_hc(_no_ns(seed_sidecar), hc)
		contains(v.message, sprintf("probing %s,", [u]))
		not _one(deny, "HA003") with input as fx.with_hc(seed_sidecar, hc)
	}
	hc := object.union(fx.hc_cmd(["curl", "-f", "http://10.0.0.1:3000/"]), {"probe_loopback": false})
	not _one(deny, "HA003") with input as fx.with_hc(_no_ns(seed_sidecar), hc)
}

test_ha003_not_for_service_name_probe if {
	inp := fx.with_hc(_no_ns(seed_sidecar), fx.hc_cmd(["curl", "-f", "http://app:3000/"]))
	not _one(deny, "HA003") with input as inp
	count(deny) == 0 with input as inp
}

test_ha003_not_for_localhost_prefix_host if {
	inp := fx.with_hc(_no_ns(seed_sidecar), fx.hc_cmd(["curl", "-f", "http://localhost.example.com/"]))
	count(deny) == 0 with input as inp
}

test_ha003_unknown_app if {
	inp := _named(_no_ns(seed_sidecar), "probe")
	v := _one(deny, "HA003") with input as _argv(inp, ["sleep", "infinity"], [])
	contains(v.message, `namespace of "<app>"`)
	contains(v.fix.compose, `network_mode: "service:<app>"`)
}

test_ha003_not_without_resolution_when_container_mode if {
	# mode container, target not resolved: still shares a namespace.
	inp := object.union(seed_sidecar, {"container": {"network": {"container": {"found": false, "error": "no such container"}}}})
	count(deny) == 0 with input as inp
}

# ---------------------------------------------------------------------------
# HA004: the sidecar's own program
# ---------------------------------------------------------------------------

test_ha004_runtime_curl if {
	inp := fx.with_image(seed_sidecar, fx.image("dhi.io/curl", "8"))
	_rules(deny) == {"HA004"} with input as inp
	v := _one(deny, "HA004") with input as inp
	v.message == `HA004: service "app-health" (image dhi.io/curl:8) is a healthcheck sidecar that runs "sleep", which this image does not contain; the container would fail to start and never run its healthcheck.`
	contains(v.fix.summary, "(dhi.io/curl:8-debian13-dev)")
	v.fix.compose == "  app-health:\n    image: dhi.io/curl:8-debian13-dev"
}

test_ha004_docker_run if {
	inp := fx.with_image(run_sidecar, fx.image("dhi.io/curl", "8"))
	v := _one(deny, "HA004") with input as inp
	contains(v.fix.docker_run, "--entrypoint sleep dhi.io/curl:8-debian13-dev infinity")
}

test_ha004_other_runtime_image_dev_tag if {
	inp := _argv(fx.with_image(seed_sidecar, fx.image("dhi.io/redis", "8")), ["tail", "-f", "/dev/null"], [])
	v := _one(deny, "HA004") with input as inp
	contains(v.message, `runs "tail"`)
	v.fix.compose == "  app-health:\n    image: dhi.io/redis:8-dev"
}

test_ha004_index_says_missing if {
	inp := object.union(seed_sidecar, {"image": {"source": "index", "programs": {"sleep": {"found": false, "path": "", "resolved": ""}}}})
	_one(deny, "HA004") with input as inp
}

test_ha004_index_says_present if {
	inp := object.union(fx.with_image(seed_sidecar, fx.image("dhi.io/curl", "8")), {"image": {"source": "index", "programs": {"sleep": {"found": true, "path": "/usr/bin/sleep", "resolved": "/usr/bin/sleep"}}}})
	not _one(deny, "HA004") with input as inp
}

test_ha004_not_on_dev_image if {
	not _one(deny, "HA004") with input as seed_sidecar
}

test_ha004_unknown_image_allowed if {
	inp := fx.with_image(seed_sidecar, fx.image("registry.local/curl", "1"))
	not _one(deny, "HA004") with input as inp
}

test_ha004_not_for_non_sidecar if {
	# sleep 30 on the runtime curl image: no sidecar, so no HA004 here.
	inp := _named(fx.with_image(_argv(seed_sidecar, ["sleep", "30"], []), fx.image("dhi.io/curl", "8")), "probe")
	count(deny) == 0 with input as inp
	not _one(deny, "HA004") with input as fx.compose_create
}

# ---------------------------------------------------------------------------
# HA007: not a hardened image
# ---------------------------------------------------------------------------

test_ha007_busybox_warns_only if {
	inp := fx.with_hc(
		fx.with_image(_sc({"container": {"memory_bytes": 33554432}}), fx.image("docker.io/library/busybox", "1.37")),
		fx.hc_cmd(["wget", "-q", "--spider", "http://localhost:3000/health"]),
	)
	_all(inp) == {"HA007"}
	v := _one(warn, "HA007") with input as inp
	v.severity == "warning"
	v.message == `HA007: service "app-health" (image busybox:1.37) is a healthcheck sidecar on an image that is not a known hardened image; use dhi.io/curl:8-debian13-dev.`
	v.fix.compose == "  app-health:\n    image: dhi.io/curl:8-debian13-dev\n    entrypoint: [\"sleep\", \"infinity\"]"
}

test_ha007_docker_run if {
	inp := fx.with_image(run_sidecar, fx.image("docker.io/curlimages/curl", "8.10.1"))
	v := _one(warn, "HA007") with input as inp
	contains(v.fix.docker_run, "--entrypoint sleep dhi.io/curl:8-debian13-dev infinity")
}

test_ha007_not_on_hardened if {
	not _one(warn, "HA007") with input as seed_sidecar
	not _one(warn, "HA007") with input as fx.with_image(seed_sidecar, fx.image("cgr.dev/chainguard/curl", "latest-dev"))
}

# ---------------------------------------------------------------------------
# The definition
# ---------------------------------------------------------------------------

test_sidecar_keep_alives if {
	every argv in [
		[["sleep", "infinity"], []],
		[["sleep"], ["inf"]],
		[[], ["/bin/sleep", "infinity"]],
		[["sleep", "86400"], []],
		[["sleep", "365d"], []],
		[["tail", "-f", "/dev/null"], []],
		[["tail"], ["-f", "/dev/null"]],
		[["pause"], []],
		[["/pause"], []],
	] {
		_rules(warn) == {"HA008"} with input as _named(_argv(seed_sidecar, argv[0], argv[1]), "probe")
	}
}

test_not_sidecar_short_lived_or_other if {
	every argv in [
		[["sleep", "30"], []],
		[["sleep", "1h"], []],
		[["tail", "-f", "/var/log/app.log"], []],
		[["node"], ["server.js"]],
		[["sleep", "infinity", "extra"], []],
	] {
		count(warn) == 0 with input as _named(_argv(seed_sidecar, argv[0], argv[1]), "probe")
	}
}

test_keep_alive_needs_a_probe if {
	inp := fx.with_hc(_named(seed_sidecar, "probe"), fx.hc_cmd(["pg_isready", "-U", "postgres"]))
	count(warn) == 0 with input as inp
}

test_probe_programs_without_url if {
	tcp := fx.with_hc(_named(seed_sidecar, "probe"), fx.hc_cmd(["nc", "-z", "db", "5432"]))
	_rules(warn) == {"HA008"} with input as tcp
	sh := fx.with_hc(_named(seed_sidecar, "probe"), fx.hc_shell("wget -q --spider app:3000"))
	_rules(warn) == {"HA008"} with input as sh
}

test_healthcheck_suffix_name if {
	inp := _no_ns(_named(seed_sidecar, "x-healthcheck"))
	v := _one(deny, "HA003") with input as inp
	contains(v.message, `namespace of "x"`)
	data.hardened.lib.sidecar.app_name == "x" with input as inp
}

test_named_sidecar_without_healthcheck if {
	every form in ["none", "absent"] {
		inp := fx.with_hc(_argv(_no_ns(seed_sidecar), [], ["node"]), {"form": form, "inherited": false, "test": [], "probe_url": ""})
		data.hardened.lib.sidecar.is_sidecar with input as inp
		count(deny) == 0 with input as inp
		_rules(warn) == {"HA008"} with input as inp
	}
}

test_plain_app_with_healthcheck_is_none if {
	inp := fx.with_image(fx.compose_create, fx.image("dhi.io/curl", "8"))
	not data.hardened.lib.sidecar.is_sidecar with input as fx.compose_create
	count(deny) == 0 with input as fx.compose_create
	count(warn) == 0 with input as fx.compose_create
	count(warn) == 0 with input as fx.run_create
	count(deny) == 0 with input as inp
}

test_not_for_other_actions if {
	count(warn) == 0 with input as fx.plugin("plugin.disable", "hardened-authz")
	count(warn) == 0 with input as {}
}

test_ha003_app_from_the_probed_port if {
	# No -health name, but the plugin found the one container owning :3000.
	inp := _argv(_named(_no_ns(seed_sidecar), "probe"), ["sleep", "infinity"], [])
	compose := object.union(inp, {"container": {"probe_app": {"found": true, "name": "seed-web-1", "compose": {"project": "seed", "service": "web"}}}})
	v := _one(deny, "HA003") with input as compose
	contains(v.fix.compose, `network_mode: "service:web"`)

	run := _run({"container": {"name": "checker", "network": {"mode": "bridge", "target": ""}, "probe_app": {"found": true, "name": "api"}}})
	w := _one(deny, "HA003") with input as run
	contains(w.fix.docker_run, "--network container:api ")
}

# --- HA011 -------------------------------------------------------------------

# The catalog entries of the dhi.io/curl tags, as hardened.lib.image.entry
# gives them (the tests set the entry itself, whatever the catalog holds).
_curl_dev := {"hardened": true, "shell": true, "entrypoint": ["curl"], "cmd": ["--help"], "programs": {"curl": true, "sleep": true}}

_curl_runtime := {"hardened": true, "shell": false, "entrypoint": ["curl"], "cmd": ["--help"], "programs": {"curl": true, "sleep": false}}

# The multi example's sidecar, as `authz check` sees it without a daemon:
# no entrypoint, so the image's curl --help, known from the catalog.
_exiting(tag) := object.union(
	object.remove(seed_sidecar, ["image"]),
	{
		"source": "compose",
		"image": object.union(fx.image("dhi.io/curl", tag), {"source": "catalog", "found": false}),
		"container": {"image": sprintf("dhi.io/curl:%s", [tag]), "entrypoint": [], "command": []},
	},
)

test_ha011_sidecar_without_keep_alive if {
	d := deny with input as _exiting("8-debian13-dev") with data.hardened.lib.image.entry as _curl_dev
	_rules(d) == {"HA011"}
	v := _one(d, "HA011")
	v.message == `HA011: service "app-health" (image dhi.io/curl:8-debian13-dev) has a healthcheck, but its main process ["curl", "--help"] (the image's entrypoint and command, as the catalog knows them) exits at once (curl --help only prints and exits): the container stops before the healthcheck runs, so it never turns healthy and whatever waits for it (service_healthy) never starts.`
	v.locations == [["entrypoint"], ["command"], ["image"]]
	v.fix.compose == "  app-health:\n    entrypoint: [\"sleep\", \"infinity\"]"
	v.fix.actions == [{"op": "set_entrypoint", "service": "app-health", "entrypoint": ["sleep", "infinity"]}]
	not v.fix.docker_run
}

test_ha011_runtime_image_without_sleep_switches_image if {
	v := _one(deny, "HA011") with input as _exiting("8")
		with data.hardened.lib.image.entry as _curl_runtime
		with data.hardened.lib.image.sidecar_image as "dhi.io/curl:8-debian13-dev"
	contains(v.fix.summary, "dhi.io/curl:8 has no sleep, so run it on dhi.io/curl:8-debian13-dev")
	v.fix.compose == "  app-health:\n    image: dhi.io/curl:8-debian13-dev\n    entrypoint: [\"sleep\", \"infinity\"]"
	v.fix.actions == [{"op": "set_entrypoint", "service": "app-health", "entrypoint": ["sleep", "infinity"], "image": "dhi.io/curl:8-debian13-dev"}]
}

test_ha011_curl_command_from_the_request if {
	# An inspected image: argv is the merged one, a single curl request.
	inp := _sc({"container": {"entrypoint": ["curl"], "command": ["-fsS", "http://localhost:3000/"]}})
	v := _one(deny, "HA011") with input as inp
	contains(v.message, `its main process ["curl", "-fsS", "http://localhost:3000/"] exits at once (curl makes one request and exits)`)
	contains(v.fix.compose, "\n    # and no command: (sleep infinity takes no other argument)")

	# The plugin's decision carries no edit.
	not v.fix.actions
}

test_ha011_docker_run if {
	inp := _run({"container": {"entrypoint": ["curl"], "command": ["--help"]}})
	v := _one(deny, "HA011") with input as inp
	v.fix.docker_run == "docker run --entrypoint sleep <the same options> dhi.io/curl:8-debian13-dev infinity"
	not v.fix.compose
}

test_ha011_swarm_service if {
	inp := object.union(_run({"container": {"name": "shop_web-health", "entrypoint": ["curl"], "command": ["--help"]}}), {
		"action": "service.create",
		"service": {"name": "shop_web-health", "stack": "shop"},
	})
	v := _one(deny, "HA011") with input as inp
	contains(v.fix.summary, `in the stack file set entrypoint: ["sleep", "infinity"]`)
	contains(v.fix.summary, `docker service update --entrypoint "sleep infinity")`)
	not v.fix.compose
	not v.fix.docker_run
}

test_ha011_app_asked_for_its_version if {
	# Not a sidecar: the fix is its real command, not sleep.
	inp := fx.with_hc(fx.create({"container": {"entrypoint": ["/app"], "command": ["--version"]}}), fx.hc_cmd(["/app", "-healthcheck"]))
	v := _one(deny, "HA011") with input as inp
	contains(v.message, `(app --version only prints and exits)`)
	v.fix.summary == `Run the program the container is for: ["/app", "--version"] only prints and exits, so give it the command that starts its service (without --version).`
	not v.fix.actions
	not v.fix.compose
}

test_ha011_not_reported if {
	# Keep-alive sidecars (the seed's solution).
	not _one(deny, "HA011") with input as seed_sidecar
	not _one(deny, "HA011") with input as object.union(_exiting("8-debian13-dev"), {"container": {"entrypoint": ["sleep", "infinity"]}}) with data.hardened.lib.image.entry as _curl_dev

	# No healthcheck, or a disabled one: a one-shot curl job is fine.
	not _one(deny, "HA011") with input as fx.with_hc(_exiting("8-debian13-dev"), {"form": "absent", "inherited": false, "test": [], "probe_url": ""}) with data.hardened.lib.image.entry as _curl_dev
	not _one(deny, "HA011") with input as fx.with_hc(_exiting("8-debian13-dev"), {"form": "none", "inherited": false, "test": ["NONE"], "probe_url": ""}) with data.hardened.lib.image.entry as _curl_dev

	# Unknown process: the catalog does not say.
	not _one(deny, "HA011") with input as _exiting("8-debian13-dev") with data.hardened.lib.image.entry as {}

	# A shell running the probe and then sleeping.
	not _one(deny, "HA011") with input as _sc({"container": {"entrypoint": ["sh", "-c"], "command": ["sleep infinity"]}})
}

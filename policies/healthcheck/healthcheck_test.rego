package hardened.rules.healthcheck

import data.hardened.test.fixtures as fx

_rules(d) := {v.rule | some v in d}

_one(d, id) := v if {
	vs := [v | some v in d; v.rule == id]
	count(vs) == 1
	v := vs[0]
}

_on(base, repo, tg) := fx.with_image(base, fx.image(repo, tg))

# ---------------------------------------------------------------------------
# HA002: exec-form program missing
# ---------------------------------------------------------------------------

test_ha002_article_case_compose if {
	d := deny with input as fx.compose_create
	_rules(d) == {"HA002"}
	v := _one(d, "HA002")
	v.severity == "error"
	v.title == "Healthcheck program missing from the image"
	v.message == `HA002: service "app" (image dhi.io/node:25-debian13-sfw-ent-dev): the healthcheck runs "curl", which this image does not contain; it would stay unhealthy forever.`
	v.fix.summary == `Move the probe into a hardened curl sidecar (dhi.io/curl:8-debian13-dev) that shares the network namespace of service "app", and point depends_on ... condition: service_healthy at "app-health".`
	startswith(v.fix.compose, "  app-health:\n    image: dhi.io/curl:8-debian13-dev\n    network_mode: \"service:app\"\n")
	contains(v.fix.compose, "      interval: 30s\n      timeout: 3s\n      retries: 3\n      start_period: 10s\n")
	contains(v.fix.compose, "depends_on: {app-health: {condition: service_healthy}}")
	not v.fix.docker_run
	contains(v.fix.alternative, `["CMD", "node", "-e", "fetch('http://localhost:3000/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]`)
}

test_ha002_docker_run if {
	v := _one(deny, "HA002") with input as fx.run_create
	startswith(v.message, `HA002: container "web" (image dhi.io/node:25-debian13-sfw-ent-dev): the healthcheck runs "curl"`)
	not v.fix.compose
	contains(v.fix.docker_run, "docker run -d --name web-health --network container:web --memory 32m --health-cmd \"curl -f http://localhost:3000/health\"")
	contains(v.fix.docker_run, "--entrypoint sleep dhi.io/curl:8-debian13-dev infinity")
	contains(v.fix.docker_run, "--no-healthcheck")
	contains(v.fix.summary, "(--network container:web)")
}

test_ha002_unnamed_container if {
	v := _one(deny, "HA002") with input as fx.run({"container": {"name": ""}})
	startswith(v.message, "HA002: container (unnamed) (image ")
	contains(v.fix.docker_run, "--name <app>-health --network container:<app>")
}

test_ha002_runtime_tag if {
	v := _one(deny, "HA002") with input as _on(fx.compose_create, "dhi.io/node", "24")
	contains(v.message, "(image dhi.io/node:24)")
}

test_ha002_absolute_path if {
	inp := fx.with_hc(fx.compose_create, fx.hc_cmd(["/usr/bin/curl", "-f", fx.url]))
	v := _one(deny, "HA002") with input as inp
	contains(v.message, `runs "/usr/bin/curl", which this image does not contain`)
}

test_ha002_wget if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-debian13-sfw-ent-dev"), fx.hc_cmd(["wget", "-q", "--spider", fx.url]))
	v := _one(deny, "HA002") with input as inp
	contains(v.message, `runs "wget"`)
	contains(v.fix.compose, `test: ["CMD", "curl", "-f", "http://localhost:3000/health"]`)
}

test_ha002_inherited_healthcheck if {
	inp := fx.create({"container": {"healthcheck": {"inherited": true}}})
	v := _one(deny, "HA002") with input as inp
	contains(v.message, `the healthcheck inherited from the image runs "curl"`)
	contains(v.fix.compose, `turn off the image's healthcheck in "app" (healthcheck: {disable: true})`)

	r := _one(deny, "HA002") with input as fx.run({"container": {"healthcheck": {"inherited": true}}})
	startswith(r.fix.docker_run, "# run web with --no-healthcheck (its image's HEALTHCHECK cannot run)")
}

test_ha002_mirror_on_docker_hub if {
	v := _one(deny, "HA002") with input as _on(fx.compose_create, "docker.io/acme/dhi-node", "24")
	contains(v.message, "(image acme/dhi-node:24)")
}

test_ha002_chainguard_and_distroless if {
	_rules(deny) == {"HA002"} with input as _on(fx.compose_create, "cgr.dev/chainguard/node", "latest")
	_rules(deny) == {"HA002"} with input as _on(fx.compose_create, "cgr.dev/chainguard/node", "latest-dev")
	_rules(deny) == {"HA002"} with input as _on(fx.compose_create, "gcr.io/distroless/nodejs22-debian12", "nonroot")
	_rules(deny) == {"HA002"} with input as _on(fx.compose_create, "gcr.io/distroless/base-debian12", "debug")
}

test_ha002_distroless_alternative_uses_node_path if {
	v := _one(deny, "HA002") with input as _on(fx.compose_create, "gcr.io/distroless/nodejs22-debian12", "nonroot")
	contains(v.fix.alternative, `["CMD", "/nodejs/bin/node", "-e", "fetch(`)
}

test_ha002_python_alternative if {
	v := _one(deny, "HA002") with input as _on(fx.compose_create, "dhi.io/python", "3.13")
	contains(v.fix.alternative, `["CMD", "python3", "-c", "import sys,urllib.request;sys.exit(0 if urllib.request.urlopen('http://localhost:3000/health',timeout=5).status<400 else 1)"]`)
}

test_ha002_no_alternative_without_interpreter if {
	v := _one(deny, "HA002") with input as _on(fx.compose_create, "dhi.io/nginx", "1")
	not v.fix.alternative
	v.fix.compose
}

test_ha002_generic_fix_without_url if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/postgres", "17"), fx.hc_cmd(["nc", "-z", "localhost", "5432"]))
	v := _one(deny, "HA002") with input as inp
	contains(v.message, `runs "nc", which this image does not contain`)
	object.keys(v.fix) == {"summary"}
	startswith(v.fix.summary, `This image has no "nc": use a variant of the image that contains it`)
	contains(v.fix.summary, `exec form: ["CMD", "<program>", "<arg>"]`)
}

test_ha002_scan_says_missing if {
	inp := object.union(
		fx.with_hc(_on(fx.compose_create, "docker.io/acme/postgres", "17"), fx.hc_cmd(["pg_isready", "-U", "postgres"])),
		{"image": {"programs": {"pg_isready": {"found": false, "path": ""}}}},
	)
	v := _one(deny, "HA002") with input as inp
	contains(v.message, `runs "pg_isready"`)
	contains(v.fix.summary, `This image has no "pg_isready"`)
}

test_ha002_scan_says_present if {
	inp := object.union(fx.compose_create, {"image": {"programs": {"curl": {"found": true, "path": "/usr/local/bin/curl"}}}})
	count(deny) == 0 with input as inp
}

test_ha002_allowed_curl_in_dhi_curl if {
	count(deny) == 0 with input as _on(fx.compose_create, "dhi.io/curl", "8-debian13-dev")
	count(deny) == 0 with input as _on(fx.compose_create, "dhi.io/curl", "8")
	count(deny) == 0 with input as _on(fx.compose_create, "docker.io/acme/dhi-curl", "8")
}

test_ha002_allowed_unknown_image if {
	count(deny) == 0 with input as _on(fx.compose_create, "docker.io/library/node", "25")
	count(deny) == 0 with input as _on(fx.compose_create, "dhi.io/gitea", "")
}

test_ha002_allowed_unknown_program if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/postgres", "17"), fx.hc_cmd(["pg_isready", "-U", "postgres"]))
	count(deny) == 0 with input as inp
}

test_ha002_allowed_interpreter_probe if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_cmd(["node", "-e", "process.exit(0)"]))
	count(deny) == 0 with input as inp
}

test_ha002_sleep_in_runtime_curl if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/curl", "8"), fx.hc_cmd(["sleep", "1"]))
	v := _one(deny, "HA002") with input as inp
	contains(v.message, `runs "sleep"`)
}

test_ha002_exec_sh_on_runtime_image if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_cmd(["sh", "-c", "curl -f http://localhost:3000/health"]))
	v := _one(deny, "HA002") with input as inp
	contains(v.message, `runs "sh"`)
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), fx.hc_cmd(["sh", "-c", "true"]))
}

test_ha002_not_for_other_actions if {
	count(deny) == 0 with input as object.union(fx.compose_create, {"action": "container.update"})
}

# ---------------------------------------------------------------------------
# HA001: CMD-SHELL without a shell
# ---------------------------------------------------------------------------

test_ha001_compose if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_shell_curl)
	d := deny with input as inp
	_rules(d) == {"HA001"}
	v := _one(d, "HA001")
	v.severity == "error"
	v.title == "CMD-SHELL healthcheck in an image without a shell"
	v.message == `HA001: service "app" (image dhi.io/node:24): the healthcheck is CMD-SHELL ("curl -f http://localhost:3000/health || exit 1"), and this image has no shell (/bin/sh); it would stay unhealthy forever.`
	contains(v.fix.compose, `      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]`)
	not contains(v.fix.compose, "interval:")
	contains(v.fix.alternative, `"node", "-e"`)
}

test_ha001_docker_run if {
	inp := fx.with_hc(_on(fx.run_create, "dhi.io/node", "24"), fx.hc_shell_curl)
	v := _one(deny, "HA001") with input as inp
	startswith(v.message, `HA001: container "web" (image dhi.io/node:24): the healthcheck is CMD-SHELL`)
	endswith(v.fix.docker_run, `--memory 32m --health-cmd "curl -f http://localhost:3000/health" --entrypoint sleep dhi.io/curl:8-debian13-dev infinity`)
	contains(v.fix.alternative, "HEALTHCHECK CMD [\"node\", \"-e\"")
}

test_ha001_inherited if {
	hc := object.union(fx.hc_shell_curl, {"inherited": true})
	v := _one(deny, "HA001") with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), hc)
	contains(v.message, "the healthcheck inherited from the image is CMD-SHELL")
	contains(v.fix.compose, "healthcheck: {disable: true}")
}

test_ha001_allowed_on_dev_image if {
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), fx.hc_shell("node -e 'process.exit(0)'"))
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "dhi.io/curl", "8-debian13-dev"), fx.hc_shell_curl)
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "cgr.dev/chainguard/node", "latest-dev"), fx.hc_shell("true"))
}

test_ha001_allowed_on_unknown_image if {
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "docker.io/library/nginx", "latest"), fx.hc_shell_curl)
}

test_ha001_label_overrides_catalog if {
	no_shell_label := object.union(
		fx.with_hc(_on(fx.compose_create, "docker.io/acme/app", "1"), fx.hc_shell_curl),
		{"image": {"labels": {"com.docker.dhi.shell": ""}}},
	)
	_rules(deny) == {"HA001"} with input as no_shell_label

	shell_label := object.union(
		fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_shell_curl),
		{"image": {"labels": {"com.docker.dhi.shell": "/bin/bash"}}},
	)

	# The shell is there now; the curl it runs still is not.
	_rules(deny) == {"HA002"} with input as shell_label
}

test_ha001_shell_found_overrides_everything if {
	inp := object.union(
		fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_shell_curl),
		{"image": {"labels": {"com.docker.dhi.shell": ""}, "shell_found": true}},
	)
	_rules(deny) == {"HA002"} with input as inp
	count(deny) == 0 with input as object.union(inp, {"image": {"programs": {"curl": {"found": true, "path": "/usr/bin/curl"}}}})
}

test_ha001_chainguard_and_distroless if {
	_rules(deny) == {"HA001"} with input as fx.with_hc(_on(fx.compose_create, "cgr.dev/chainguard/nginx", "latest"), fx.hc_shell_curl)
	_rules(deny) == {"HA001"} with input as fx.with_hc(_on(fx.compose_create, "gcr.io/distroless/static-debian12", "nonroot"), fx.hc_shell_curl)

	# debug: busybox in /busybox, but no /bin/sh
	_rules(deny) == {"HA001"} with input as fx.with_hc(_on(fx.compose_create, "gcr.io/distroless/base-debian12", "debug"), fx.hc_shell_curl)
}

test_ha001_custom_shell if {
	busybox := object.union(fx.hc_shell_curl, {"program": "/busybox/sh", "shell": ["/busybox/sh", "-c"]})
	_rules(deny) == {"HA002"} with input as fx.with_hc(_on(fx.compose_create, "gcr.io/distroless/base-debian12", "debug"), busybox)

	bash := object.union(fx.hc_shell_curl, {"program": "/bin/bash", "shell": ["/bin/bash", "-c"]})
	v := _one(deny, "HA001") with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-alpine3.22-dev"), bash)
	contains(v.message, "this image has no shell (/bin/bash)")
}

test_ha001_generic_fix_without_url if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/redis", "8"), fx.hc_shell("pg_isready -U postgres"))
	v := _one(deny, "HA001") with input as inp
	contains(v.message, `is CMD-SHELL ("pg_isready -U postgres")`)
	object.keys(v.fix) == {"summary"}
	startswith(v.fix.summary, `This image has no shell: rewrite the healthcheck in exec form, ["CMD", "<program>", "<arg>"]`)

	r := _one(deny, "HA001") with input as fx.with_hc(_on(fx.run_create, "dhi.io/redis", "8"), fx.hc_shell("pg_isready -U postgres"))
	contains(r.fix.docker_run, "HEALTHCHECK CMD [\"<program>\", \"<arg>\"]")
}

test_ha001_entrypoint_script_means_shell if {
	inp := object.union(
		fx.with_hc(_on(fx.compose_create, "dhi.io/postgres", "17"), fx.hc_shell("pg_isready -U postgres")),
		{"container": {"entrypoint": ["docker-entrypoint.sh"], "command": ["postgres"]}},
	)
	count(deny) == 0 with input as inp
}

test_ha001_long_command_is_truncated if {
	cmd := concat(" ", ["curl -f", fx.url, concat("", [x | some _ in numbers.range(1, 3000); x := "z"])])
	v := _one(deny, "HA001") with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_shell(cmd))
	count(v.message) < 300
	contains(v.message, "…")
}

# ---------------------------------------------------------------------------
# Neither rule
# ---------------------------------------------------------------------------

test_no_rule_for_none_or_absent if {
	none := {"form": "none", "inherited": false, "test": ["NONE"], "program": "", "args": [], "probe_url": ""}
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), none)
	absent := {"form": "absent", "inherited": false, "test": [], "program": "", "args": [], "probe_url": ""}
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), absent)
	count(deny) == 0 with input as object.remove(_on(fx.compose_create, "dhi.io/node", "24"), ["container"])
}

test_suggested_sidecar_passes_the_rules if {
	# The article's sidecar, as compose creates it, is allowed.
	sidecar := object.union(
		fx.with_image(fx.compose_create, fx.image("dhi.io/curl", "8-debian13-dev")),
		{"container": {
			"name": "seed-app-health-1",
			"compose": {"service": "app-health"},
			"entrypoint": ["sleep", "infinity"],
			"network": {"mode": "container", "target": "3f2a"},
			"memory_bytes": 33554432,
		}},
	)
	count(deny) == 0 with input as sidecar

	# And the docker run variant (--health-cmd is CMD-SHELL) too.
	run_sidecar := fx.with_hc(
		object.union(fx.with_image(fx.run_create, fx.image("dhi.io/curl", "8-debian13-dev")), {"container": {"name": "web-health"}}),
		fx.hc_shell("curl -f http://localhost:3000/health"),
	)
	count(deny) == 0 with input as run_sidecar
}

test_messages_stay_under_4k if {
	long_svc := concat("", [x | some _ in numbers.range(1, 63); x := "s"])
	long_url := concat("", ["http://localhost:3000/", concat("", [x | some _ in numbers.range(1, 480); x := "p"])])
	hc := object.union(fx.hc_cmd_curl, {"test": ["CMD", "curl", "-f", long_url], "args": ["-f", long_url], "probe_url": long_url})
	inp := fx.with_hc(fx.create({"container": {"compose": {"service": long_svc}}}), hc)
	v := _one(deny, "HA002") with input as inp
	v.fix.compose
	v.fix.alternative
	count(json.marshal(v)) < 4096
	count(concat("\n", [v.message, v.fix.summary, v.fix.compose, v.fix.alternative])) < 4096

	rv := _one(deny, "HA002") with input as fx.with_hc(fx.run({"container": {"name": long_svc}}), hc)
	count(json.marshal(rv)) < 4096
}

# ---------------------------------------------------------------------------
# HA002 in shell form: the shell is there, a program it runs is not
# ---------------------------------------------------------------------------

test_ha002_shell_form_on_dev_image if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), fx.hc_shell_curl)
	_rules(deny) == {"HA002"} with input as inp
	v := _one(deny, "HA002") with input as inp
	v.message == `HA002: service "app" (image dhi.io/node:24-dev): the healthcheck is CMD-SHELL ("curl -f http://localhost:3000/health || exit 1") and runs "curl", which this image does not contain; it would stay unhealthy forever.`
	contains(v.fix.compose, `network_mode: "service:app"`)
	contains(v.fix.compose, `test: ["CMD", "curl", "-f", "http://localhost:3000/health"]`)
}

test_ha002_shell_form_names_the_missing_command if {
	inp := fx.with_hc(
		_on(fx.run_create, "dhi.io/node", "24-dev"),
		object.union(fx.hc_shell("node probe.js && wget -q http://localhost:3000/"), {"commands": ["node", "wget"]}),
	)
	v := _one(deny, "HA002") with input as inp
	contains(v.message, `runs "wget", which this image does not contain`)
}

test_ha002_shell_form_program_present if {
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "dhi.io/curl", "8-debian13-dev"), fx.hc_shell_curl)
}

test_ha002_shell_form_unknown_image_or_program if {
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "docker.io/library/nginx", "1"), fx.hc_shell_curl)
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), fx.hc_shell("pg_isready -U postgres"))
}

test_ha002_shell_form_not_reported_without_a_shell if {
	# No shell at all: HA001 says it; HA002 would only repeat the cause.
	_rules(deny) == {"HA001"} with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_shell_curl)
}

# ---------------------------------------------------------------------------
# HA009: a test dockerd cannot run
# ---------------------------------------------------------------------------

test_ha009_no_program if {
	# On the runtime image, where a shell or curl would be missing too:
	# only HA009, which is about the test itself.
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_invalid(["CMD"], "no_program"))
	_rules(deny) == {"HA009"} with input as inp
	v := _one(deny, "HA009") with input as inp
	v.severity == "error"
	v.title == "Healthcheck dockerd cannot run"
	v.message == `HA009: service "app" (image dhi.io/node:24): the healthcheck is ["CMD"], an exec test with no program to run: dockerd before 29.5 panics at its first probe and exits, and restarting it (without live-restore) stops every container on the host; later versions fail every probe.`
	v.fix.summary == `Name the program the exec test runs, ["CMD", "<program>", "<arg>"], with a program the image contains; or turn the healthcheck off (healthcheck: {disable: true}).`
	v.fix.compose == "  app:\n    healthcheck:\n      test: [\"CMD\", \"<program>\", \"<arg>\"]\n      # or, for no healthcheck at all: disable: true"
	not v.fix.docker_run
	v.locations == [["healthcheck", "test"], ["image"]]
}

test_ha009_any_image if {
	# Not an image fact: an unknown image, or one that has everything.
	every repo_tag in [["docker.io/library/nginx", "1"], ["dhi.io/curl", "8-debian13-dev"]] {
		inp := fx.with_hc(_on(fx.compose_create, repo_tag[0], repo_tag[1]), fx.hc_invalid(["CMD"], "no_program"))
		_rules(deny) == {"HA009"} with input as inp
	}
}

test_ha009_empty_program if {
	v := _one(deny, "HA009") with input as fx.with_hc(fx.compose_create, fx.hc_invalid(["CMD", ""], "empty_program"))
	contains(v.message, `the healthcheck is an exec test whose program is empty (["CMD", ""])`)
	contains(v.fix.summary, `["CMD", "<program>", "<arg>"]`)
}

test_ha009_no_command_not_ha001 if {
	# ["CMD-SHELL"] on an image without a shell: the missing command, not
	# the missing shell (HA001 would quote an "empty command").
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_invalid(["CMD-SHELL"], "no_command"))
	_rules(deny) == {"HA009"} with input as inp
	v := _one(deny, "HA009") with input as inp
	contains(v.message, `the healthcheck is ["CMD-SHELL"], a shell test with no command`)
	contains(v.fix.summary, `Give the shell test its command, ["CMD-SHELL", "<command>"]`)
	contains(v.fix.compose, `test: ["CMD-SHELL", "<command>"]`)
}

test_ha009_empty_command if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), fx.hc_invalid(["CMD-SHELL", ""], "empty_command"))
	v := _one(deny, "HA009") with input as inp
	contains(v.message, "exits 0, so the container would report healthy without anything being checked")
}

test_ha009_unknown_type_wrong_case if {
	inp := fx.with_hc(fx.compose_create, fx.hc_invalid(["cmd", "curl", "-f", fx.url], "unknown_type"))
	_rules(deny) == {"HA009"} with input as inp
	v := _one(deny, "HA009") with input as inp
	contains(v.message, `has the unknown test type "cmd": the first element must be "CMD", "CMD-SHELL" or "NONE" (case-sensitive)`)
	v.fix.summary == `Write the test type in capitals, "CMD": dockerd compares it case-sensitively.`
	contains(v.fix.compose, `test: ["CMD", "<program or command>"]`)
}

test_ha009_unknown_type_program_first if {
	v := _one(deny, "HA009") with input as fx.with_hc(fx.run_create, fx.hc_invalid(["/bin/cat", "/tmp/ok"], "unknown_type"))
	startswith(v.message, `HA009: container "web" (image dhi.io/node:25-debian13-sfw-ent-dev): the healthcheck has the unknown test type "/bin/cat"`)
	contains(v.fix.summary, `"CMD" to execute a program (["CMD", "/bin/cat", ...])`)
	contains(v.fix.docker_run, "docker run --no-healthcheck")
	not v.fix.compose
}

test_ha009_unknown_type_is_bounded if {
	long := concat("", [x | some _ in numbers.range(1, 5000); x := "y"])
	v := _one(deny, "HA009") with input as fx.with_hc(fx.compose_create, fx.hc_invalid([long], "unknown_type"))
	count(v.message) < 400
	count(json.marshal(v)) < 4096
}

test_ha009_inherited if {
	hc := object.union(fx.hc_invalid(["CMD"], "no_program"), {"inherited": true})
	v := _one(deny, "HA009") with input as fx.with_hc(fx.run_create, hc)
	contains(v.message, `the healthcheck inherited from the image is ["CMD"]`)
	contains(v.fix.summary, "(--no-healthcheck). The test comes from the image's HEALTHCHECK")
}

test_ha009_not_for_tests_that_run if {
	not _one(deny, "HA009") with input as fx.compose_create
	not _one(deny, "HA009") with input as fx.with_hc(_on(fx.compose_create, "dhi.io/curl", "8-debian13-dev"), fx.hc_shell_curl)
	none := {"form": "none", "inherited": false, "test": ["NONE"], "program": "", "args": [], "probe_url": ""}
	count(deny) == 0 with input as fx.with_hc(fx.compose_create, none)
}

test_truncated_command_on_image_without_shell if {
	# A command too long to parse: no commands, but HA001 needs none.
	hc := object.union(fx.hc_shell_curl, {"commands": [], "truncated": true})
	_rules(deny) == {"HA001"} with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), hc)
	count(deny) == 0 with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), object.union(hc, {"probe_url": ""}))
}

# ---------------------------------------------------------------------------
# The rules and hardened.lib.healthcheck
# ---------------------------------------------------------------------------

test_rules_report_what_cannot_run if {
	# HA001/HA002 report exactly what hardened.lib.healthcheck says cannot
	# run, so lib.project (which asks the library) and these rules never
	# tell a service two stories.
	every inp in [
		fx.compose_create,
		fx.run_create,
		_on(fx.compose_create, "dhi.io/curl", "8"),
		fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_shell_curl),
		fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), fx.hc_shell_curl),
		fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), fx.hc_shell("pg_isready -U postgres")),
		fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), {"form": "none", "inherited": false, "test": ["NONE"], "probe_url": ""}),
		fx.with_hc(_on(fx.compose_create, "docker.io/library/nginx", "1"), fx.hc_shell_curl),
		fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_invalid(["CMD"], "no_program")),
		fx.with_hc(_on(fx.compose_create, "dhi.io/curl", "8-debian13-dev"), fx.hc_invalid(["curl"], "unknown_type")),
	] {
		_agree(inp)
	}
}

_agree(inp) if {
	data.hardened.lib.healthcheck.cannot_run with input as inp
	count(deny) > 0 with input as inp
}

_agree(inp) if {
	not data.hardened.lib.healthcheck.cannot_run with input as inp
	count(deny) == 0 with input as inp
}

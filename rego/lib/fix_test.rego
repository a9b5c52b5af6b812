package hardened.lib.fix

import data.hardened.test.fixtures as fx

_sidecar := "dhi.io/curl:8-debian13-dev"

test_usable_url if {
	usable_url("http://localhost:3000/health")
	usable_url("https://127.0.0.1:8443/api/health?full=1&x=(2)")
	not usable_url("")
	not usable_url("localhost:3000/health")
	not usable_url("ftp://localhost/x")
	not usable_url("http://localhost/'; rm -rf /")
	not usable_url(`http://localhost/$(id)`)
	not usable_url("http://localhost/a b")
	not usable_url(`http://localhost/"x"`)
	not usable_url(concat("", ["http://localhost/", concat("", [x | some _ in numbers.range(1, 600); x := "a"])]))
}

test_sidecar_name if {
	sidecar_name("app") == "app-health"
}

test_sidecar_test_keeps_curl_args if {
	hc := fx.hc_cmd(["curl", "-fsS", "--max-time", "2", fx.url])
	sidecar_test(hc, fx.url) == ["CMD", "curl", "-fsS", "--max-time", "2", fx.url]
}

test_sidecar_test_replaces_other_probes if {
	sidecar_test(fx.hc_cmd(["wget", "-qO-", fx.url]), fx.url) == ["CMD", "curl", "-f", fx.url]
	sidecar_test(fx.hc_shell_curl, fx.url) == ["CMD", "curl", "-f", fx.url]
}

test_timings if {
	timings(fx.hc_cmd_curl) == [
		["interval", "30s", "--health-interval"],
		["timeout", "3s", "--health-timeout"],
		["retries", "3", "--health-retries"],
		["start_period", "10s", "--health-start-period"],
	]
	timings(fx.hc_shell_curl) == []
	timings({}) == []
	timings(object.union(fx.hc_shell_curl, {"timeout_ns": 1500000000})) == [["timeout", "1500ms", "--health-timeout"]]
}

test_compose_sidecar_article_example if {
	got := compose_sidecar("app", fx.hc_cmd_curl, fx.url, _sidecar, false)
	want := concat("\n", [
		"  app-health:",
		"    image: dhi.io/curl:8-debian13-dev",
		`    network_mode: "service:app"`,
		`    entrypoint: ["sleep", "infinity"]`,
		"    healthcheck:",
		`      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]`,
		"      interval: 30s",
		"      timeout: 3s",
		"      retries: 3",
		"      start_period: 10s",
		"    mem_limit: 32m",
		`  # Then remove the healthcheck from "app", and have services that wait for it use:`,
		"  #   depends_on: {app-health: {condition: service_healthy}}",
	])
	got == want
}

test_compose_sidecar_omits_unset_timings if {
	got := compose_sidecar("api", fx.hc_shell_curl, fx.url, _sidecar, false)
	not contains(got, "interval:")
	not contains(got, "retries:")
	contains(got, `      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]`)
	contains(got, `network_mode: "service:api"`)
}

test_compose_sidecar_inherited_disables_image_healthcheck if {
	got := compose_sidecar("app", fx.hc_cmd_curl, fx.url, _sidecar, true)
	contains(got, "healthcheck: {disable: true}")
	not contains(got, "remove the healthcheck")
}

test_docker_run_sidecar if {
	got := docker_run_sidecar("web", fx.hc_cmd_curl, fx.url, _sidecar, false)
	lines := split(got, "\n")
	count(lines) == 2
	lines[0] == "# run web without --health-cmd (add --no-healthcheck), then:"
	lines[1] == concat(" ", [
		"docker run -d --name web-health --network container:web --memory 32m",
		`--health-cmd "curl -f http://localhost:3000/health"`,
		"--health-interval 30s --health-timeout 3s --health-retries 3 --health-start-period 10s",
		"--entrypoint sleep dhi.io/curl:8-debian13-dev infinity",
	])
}

test_docker_run_sidecar_brief_form_without_timings if {
	got := docker_run_sidecar("web", fx.hc_shell_curl, fx.url, _sidecar, false)
	endswith(got, `docker run -d --name web-health --network container:web --memory 32m --health-cmd "curl -f http://localhost:3000/health" --entrypoint sleep dhi.io/curl:8-debian13-dev infinity`)
}

test_docker_run_sidecar_unnamed_and_inherited if {
	got := docker_run_sidecar("", fx.hc_cmd_curl, fx.url, _sidecar, true)
	startswith(got, "# run <app> with --no-healthcheck")
	contains(got, "--name <app>-health --network container:<app> ")
}

test_docker_run_sidecar_quotes_special_urls if {
	u := "http://localhost:3000/health?a=1&b=2"
	got := docker_run_sidecar("web", fx.hc_cmd(["curl", u]), u, _sidecar, false)
	contains(got, `--health-cmd 'curl -f "http://localhost:3000/health?a=1&b=2"'`)
}

test_sidecar_run_command if {
	sidecar_run_command("web-health", "web", "<healthcheck options>", _sidecar, ["sleep", "infinity"]) == "docker run -d --name web-health --network container:web --memory 32m <healthcheck options> --entrypoint sleep dhi.io/curl:8-debian13-dev infinity"
	sidecar_run_command("x", "app", "--health-cmd \"curl -f http://app/\"", "img:1", ["tail", "-f", "/dev/null"]) == "docker run -d --name x --network container:app --memory 32m --health-cmd \"curl -f http://app/\" --entrypoint tail img:1 -f /dev/null"
}

test_for_target if {
	f := for_target("s", "  app:\n    x: y", "docker run x") with input as fx.compose_create
	f == {"summary": "s", "compose": "  app:\n    x: y"}
	r := for_target("s", "  app:\n    x: y", "docker run x") with input as fx.run_create
	r == {"summary": "s", "docker_run": "docker run x"}
}

test_join_network if {
	join_network("app") == `network_mode: "service:app"` with input as fx.compose_create
	join_network("app") == "--network container:app" with input as fx.run_create
}

test_interpreter_test_node if {
	interpreter_test("node", fx.url) == [
		"CMD", "node", "-e",
		"fetch('http://localhost:3000/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))",
	]
	interpreter_test("/nodejs/bin/node", fx.url)[1] == "/nodejs/bin/node"
}

test_interpreter_test_python if {
	interpreter_test("python3", fx.url) == [
		"CMD", "python3", "-c",
		"import sys,urllib.request;sys.exit(0 if urllib.request.urlopen('http://localhost:3000/health',timeout=5).status<400 else 1)",
	]
}

test_interpreter_test_other_programs_undefined if {
	not interpreter_test("ruby", fx.url)
	not interpreter_test("curl", fx.url)
}

test_alternative_compose if {
	got := alternative("node", fx.url, `service "app"`, true)
	startswith(got, "Without a sidecar, let the image's own node make the request: in service \"app\" use  test: ")
	endswith(got, `["CMD", "node", "-e", "fetch('http://localhost:3000/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]`)
}

test_alternative_docker_run_uses_dockerfile if {
	got := alternative("python3", fx.url, `container "web"`, false)
	contains(got, "docker run --health-cmd always needs a shell")
	contains(got, `HEALTHCHECK CMD ["python3", "-c", "import sys,urllib.request;`)
}

test_sidecar_summary if {
	sidecar_summary(`service "app"`, "app", true, _sidecar) == `Move the probe into a hardened curl sidecar (dhi.io/curl:8-debian13-dev) that shares the network namespace of service "app", and point depends_on ... condition: service_healthy at "app-health".`
	sidecar_summary(`container "web"`, "web", false, _sidecar) == `Move the probe into a hardened curl sidecar (dhi.io/curl:8-debian13-dev) that shares the network namespace of container "web" (--network container:web), and start web with --no-healthcheck.`
	contains(sidecar_summary("container (unnamed)", "", false, _sidecar), "--network container:<app>")
}

# ---------------------------------------------------------------------------
# sidecar_fix (input-bound)
# ---------------------------------------------------------------------------

test_sidecar_fix_compose if {
	f := sidecar_fix with input as fx.compose_create
	object.keys(f) == {"summary", "compose", "alternative"}
	f.compose == compose_sidecar("app", fx.hc_cmd_curl, fx.url, _sidecar, false)
	contains(f.alternative, `["CMD", "node", "-e", "fetch('http://localhost:3000/health')`)
}

test_sidecar_fix_docker_run if {
	f := sidecar_fix with input as fx.run_create
	object.keys(f) == {"summary", "docker_run", "alternative"}
	startswith(f.docker_run, "# run web without --health-cmd")
	contains(f.alternative, "HEALTHCHECK CMD [\"node\"")
}

test_sidecar_fix_no_alternative_without_interpreter if {
	inp := fx.with_image(fx.compose_create, fx.image("dhi.io/redis", "8"))
	f := sidecar_fix with input as inp
	object.keys(f) == {"summary", "compose"}
}

test_sidecar_fix_uses_catalog_sidecar_image if {
	f := sidecar_fix with input as fx.compose_create with data.catalog.sidecar_image as "registry.local/curl:8-dev"
	contains(f.compose, "    image: registry.local/curl:8-dev\n")
	contains(f.summary, "(registry.local/curl:8-dev)")
}

test_sidecar_fix_undefined_without_usable_url if {
	not sidecar_fix with input as fx.with_hc(fx.compose_create, fx.hc_cmd(["pg_isready", "-U", "postgres"]))
	not sidecar_fix with input as fx.with_hc(fx.compose_create, fx.hc_cmd(["curl", "http://x/'"]))
}

# --- the --fix actions (authz check only) ---------------------------------

test_sidecar_fix_actions_only_for_authz_check if {
	dockerd := sidecar_fix with input as fx.compose_create
	not dockerd.actions
	f := sidecar_fix with input as object.union(fx.compose_create, {"source": "compose"})
	f.actions == [{
		"op": "add_sidecar",
		"service": "app",
		"name": "app-health",
		"image": _sidecar,
		"test": ["CMD", "curl", "-f", fx.url],
		"interval": "30s",
		"timeout": "3s",
		"retries": 3,
		"start_period": "10s",
		"mem_limit": "32m",
		"app_healthcheck": "remove",
	}]
}

test_sidecar_action_disables_inherited_healthcheck_and_omits_unset_timings if {
	a := sidecar_action("web", fx.hc_shell_curl, fx.url, _sidecar, true)
	a.app_healthcheck == "disable"
	a.test == ["CMD", "curl", "-f", fx.url]
	not a.interval
	not a.retries
}

test_swarm_url if {
	swarm_url("http://localhost:3000/health", "shop_app") == "http://shop_app:3000/health"
	swarm_url("https://u:p@[::1]:8443/x?y=1", "web") == "https://web:8443/x?y=1"
	swarm_url("http://127.0.0.1/", "<service>") == "http://<service>/"
}

test_sidecar_fix_swarm_service if {
	inp := {
		"action": "service.create",
		"service": {"name": "shop_app", "stack": "shop"},
		"container": {"name": "shop_app", "healthcheck": {"form": "shell", "probe_url": "http://localhost:8080/"}},
	}
	f := sidecar_fix with input as inp
	contains(f.summary, "Swarm services cannot share a network namespace")
	contains(f.summary, "http://shop_app:8080/")
	not f.docker_run
	not f.compose
}

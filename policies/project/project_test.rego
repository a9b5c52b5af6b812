package hardened.rules.project

import data.hardened.test.fixtures as fx

# _svc(name, hc, patch): service `name` of project "seed" as `authz check`
# builds it (on dhi.io/node:25-debian13-sfw-ent-dev, publishing 3000).
_svc(name, hc, patch) := fx.with_hc(
	object.union(fx.compose_create, object.union(
		{
			"source": "compose",
			"container": {
				"name": name,
				"compose": {"project": "seed", "service": name},
				"labels": {"com.docker.compose.service": name},
			},
		},
		patch,
	)),
	hc,
)

_no_ports := {"container": {"ports": []}}

_waits(deps) := {"image": fx.image("docker.io/library/busybox", "1"), "container": {
	"ports": [],
	"compose": {"depends_on": {d: {"condition": c, "required": true} | some d, c in deps}},
}}

_absent := {"form": "absent", "inherited": false, "test": [], "probe_url": ""}

_disabled := {"form": "none", "inherited": false, "test": ["NONE"], "probe_url": ""}

_node_probe := fx.hc_cmd(["node", "-e", "fetch('http://localhost:3000/health')"])

_sidecar := _svc("app-health", fx.hc_cmd_curl, {
	"image": fx.image("dhi.io/curl", "8-debian13-dev"),
	"container": {
		"image": "dhi.io/curl:8-debian13-dev",
		"entrypoint": ["sleep", "infinity"],
		"ports": [],
		"network": {"mode": "container", "target": "app"},
		"memory_bytes": 33554432,
	},
})

# _eval(services, name): the decision on `name` inside the project, the
# same whether the project carries the index `authz check` adds
# (input.project.index) or the rules scan its services.
_eval(services, name) := d if {
	inp := object.union(services[name], {"project": {"name": "seed", "services": services}})
	d := data.hardened.main.decision with input as inp
	indexed := object.union(inp, {"project": {"index": _index(services)}})
	d == data.hardened.main.decision with input as indexed
}

# _index(services): input.project.index as internal/input builds it.
_index(services) := {t: r |
	some t in _named(services)
	deps := {s: dep.condition |
		some s, doc in services
		dep := doc.container.compose.depends_on[t]
	}
	joined := sort([s |
		some s, doc in services
		doc.container.network.mode == "container"
		doc.container.network.target == t
	])
	r := object.union(
		{k: v | some k, v in {"dependents": deps}; count(v) > 0},
		{k: v | some k, v in {"joined_by": joined}; count(v) > 0},
	)
}

_named(services) := ({s | some s, _ in services} | {t |
	some doc in services
	some t, _ in doc.container.compose.depends_on
}) | {t |
	some doc in services
	doc.container.network.mode == "container"
	t := doc.container.network.target
}

# The shipped rules' IDs among the decision's violations: operator families
# loaded beside them (`opa test policies rego DIR`) may add their own.
_rules(vs) := {v.rule | some v in vs; startswith(v.rule, "HA")}

_one(vs, id) := v if {
	some v in vs
	v.rule == id
}

# --- HA005 ------------------------------------------------------------------

test_ha005_waiting_for_a_broken_healthcheck if {
	svcs := {"app": _svc("app", fx.hc_cmd_curl, {}), "web": _svc("web", _absent, _waits({"app": "service_healthy"}))}
	d := _eval(svcs, "web")
	_rules(d.deny) == {"HA005"}
	v := _one(d.deny, "HA005")
	v.message == `HA005: service "web" waits for "app" to be healthy (depends_on condition: service_healthy), but the healthcheck of "app" cannot run in its image (see the finding on "app"); web would never start.`
	v.locations == [["depends_on", "app"]]
	contains(v.fix.summary, `sidecar "app-health"`)
	v.fix.actions == [{"op": "repoint_depends_on", "service": "web", "from": "app", "to": "app-health"}]
	contains(v.fix.compose, "      app-health:\n        condition: service_healthy")

	# The app itself gets HA002, with the sidecar to add.
	a := _eval(svcs, "app")
	_rules(a.deny) == {"HA002"}
	_one(a.deny, "HA002").fix.actions[0].op == "add_sidecar"
}

test_ha005_points_at_the_existing_sidecar if {
	svcs := {
		"app": _svc("app", fx.hc_cmd_curl, {}),
		"app-health": _sidecar,
		"web": _svc("web", _absent, _waits({"app": "service_healthy"})),
	}
	v := _one(_eval(svcs, "web").deny, "HA005")
	v.fix.summary == `Wait for "app-health" instead: it probes "app" from inside its network namespace.`
	v.fix.actions[0].to == "app-health"
}

test_ha005_states if {
	every hc in [_absent, _disabled] {
		svcs := {"app": _svc("app", hc, {}), "web": _svc("web", _absent, _waits({"app": "service_healthy"}))}
		_rules(_eval(svcs, "web").deny) == {"HA005"}
	}
	svcs := {"app": _svc("app", _disabled, {}), "web": _svc("web", _absent, _waits({"app": "service_healthy"}))}
	contains(_one(_eval(svcs, "web").deny, "HA005").message, `the healthcheck of "app" is disabled`)
}

test_ha005_not_for_a_healthcheck_that_runs_or_another_condition if {
	runs := {"app": _svc("app", _node_probe, {}), "web": _svc("web", _absent, _waits({"app": "service_healthy"}))}
	_rules(_eval(runs, "web").deny) == set()
	started := {"app": _svc("app", fx.hc_cmd_curl, {}), "web": _svc("web", _absent, _waits({"app": "service_started"}))}
	_rules(_eval(started, "web").deny) == set()
}

test_ha005_unknown_image_without_healthcheck_is_not_reported if {
	# postgres known by name only may carry its own HEALTHCHECK.
	db := _svc("db", _absent, {"image": object.union(fx.image("docker.io/library/postgres", "16"), {"source": "catalog", "found": false})})
	svcs := {"db": db, "web": _svc("web", _absent, _waits({"db": "service_healthy"}))}
	_rules(_eval(svcs, "web").deny) == set()

	# Inspected by the daemon, an absent healthcheck is absent.
	inspected := {"db": _svc("db", _absent, {"image": fx.image("docker.io/library/postgres", "16")}), "web": svcs.web}
	_rules(_eval(inspected, "web").deny) == {"HA005"}
}

test_ha005_only_with_a_project if {
	d := data.hardened.main.decision with input as _svc("web", _absent, _waits({"app": "service_healthy"}))
	_rules(d.deny) == set()
}

# --- HA005 and HA011: a sidecar whose main process exits -------------------

# The multi example's sidecar: no entrypoint, on an image the daemon did
# not show, so its process is the catalog's curl --help.
_exiting_sidecar(name, app) := _svc(name, fx.hc_cmd_curl, {
	"image": object.union(fx.image("dhi.io/curl", "8-debian13-dev"), {"source": "catalog", "found": false}),
	"container": {
		"image": "dhi.io/curl:8-debian13-dev",
		"entrypoint": [],
		"command": [],
		"ports": [],
		"network": {"mode": "container", "target": app},
		"memory_bytes": 33554432,
	},
})

# The dhi.io/curl -dev entry as hardened.lib.image.entry gives it; the
# tests set it for every service of the project, none of which needs its
# own (their images were inspected).
_curl_dev := {"hardened": true, "shell": true, "entrypoint": ["curl"], "cmd": ["--help"], "programs": {"curl": true, "sleep": true}}

test_ha005_waiting_for_a_sidecar_that_exits if {
	svcs := {
		"app": _svc("app", _absent, {}),
		"app-health": _exiting_sidecar("app-health", "app"),
		"web": _svc("web", _absent, _waits({"app-health": "service_healthy"})),
	}
	d := _eval(svcs, "web") with data.hardened.lib.image.entry as _curl_dev
	_rules(d.deny) == {"HA005"}
	v := _one(d.deny, "HA005")
	v.message == `HA005: service "web" waits for "app-health" to be healthy (depends_on condition: service_healthy), but the main process of "app-health" exits at once, so its healthcheck never runs (see the HA011 finding on "app-health"); web would never start.`

	# No repoint to an "app-health-health": the sidecar itself is fixed.
	not v.fix.actions
	contains(v.fix.summary, `Keep "app-health" running`)

	# The sidecar gets HA011, which carries the edit; it is no sidecar
	# that stands in for app (HA006 on app, which web does not wait for,
	# stays quiet).
	s := _eval(svcs, "app-health") with data.hardened.lib.image.entry as _curl_dev
	_rules(s.deny) == {"HA011"}
	_one(s.deny, "HA011").fix.actions == [{"op": "set_entrypoint", "service": "app-health", "entrypoint": ["sleep", "infinity"]}]
	a := _eval(svcs, "app") with data.hardened.lib.image.entry as _curl_dev
	_rules(a.warn) == set()
}

test_ha005_exiting_sidecar_fixed if {
	fixed := object.union(_exiting_sidecar("app-health", "app"), {"container": {"entrypoint": ["sleep", "infinity"]}})
	svcs := {
		"app": _svc("app", _absent, {}),
		"app-health": fixed,
		"web": _svc("web", _absent, _waits({"app-health": "service_healthy"})),
	}
	_rules(_eval(svcs, "web").deny) == set() with data.hardened.lib.image.entry as _curl_dev
	_rules(_eval(svcs, "app-health").deny) == set() with data.hardened.lib.image.entry as _curl_dev
}

test_ha005_waiting_for_the_app_of_an_exiting_sidecar if {
	# web waits for app, whose only sidecar exits: it stands in for nothing.
	svcs := {
		"app": _svc("app", _absent, {}),
		"app-health": _exiting_sidecar("app-health", "app"),
		"web": _svc("web", _absent, _waits({"app": "service_healthy"})),
	}
	v := _one(_eval(svcs, "web").deny, "HA005") with data.hardened.lib.image.entry as _curl_dev
	contains(v.message, `"app" has no healthcheck`)
}

# --- HA006 ------------------------------------------------------------------

# _app(name, hc, patch): _svc on an image known to be hardened by its DHI
# labels, whatever the catalog says of its name.
_app(name, hc, patch) := _svc(name, hc, object.union({"image": {"labels": {"com.docker.dhi.title": "node"}}}, patch))

test_ha006_waited_for_without_healthcheck if {
	svcs := {"app": _app("app", _absent, {}), "web": _svc("web", _absent, _waits({"app": "service_started"}))}
	d := _eval(svcs, "app")
	_rules(d.deny) == set()
	_rules(d.warn) == {"HA006"}
	v := _one(d.warn, "HA006")
	v.severity == "warning"
	v.message == `HA006: service "app" (image dhi.io/node:25-debian13-sfw-ent-dev, hardened) is waited for by "web" (service_started), but has no healthcheck that can run and no sidecar probing it, so nothing tells them when it is ready; suggested probe: an HTTP probe of port 3000 from a curl sidecar.`
	v.locations == [["healthcheck"], ["image"]]
	contains(v.fix.compose, `test: ["CMD", "curl", "-f", "http://localhost:3000/health"]`)
	contains(v.fix.compose, `network_mode: "service:app"`)
}

test_ha006_disabled_and_waited_for_healthy if {
	svcs := {"app": _app("app", _disabled, _no_ports), "web": _svc("web", _absent, _waits({"app": "service_healthy"}))}
	v := _one(_eval(svcs, "app").warn, "HA006")
	contains(v.message, `is waited for by "web" (service_healthy)`)
	contains(v.fix.compose, "localhost:<port>/health")
}

test_ha006_not_for_a_published_port_alone if {
	_rules(_eval({"app": _svc("app", _absent, {})}, "app").warn) == set()
}

test_ha006_not_for_a_job if {
	# Every dependant waits for it to complete: a one-shot job.
	svcs := {
		"migrate": _app("migrate", _absent, _no_ports),
		"web": _svc("web", _absent, _waits({"migrate": "service_completed_successfully"})),
		"worker": _svc("worker", _absent, _waits({"migrate": "service_completed_successfully"})),
	}
	_rules(_eval(svcs, "migrate").warn) == set()

	# One that waits for it to start makes it a service again, and only
	# that one is named.
	mixed := object.union(svcs, {"worker": _svc("worker", _absent, _waits({"migrate": "service_started"}))})
	v := _one(_eval(mixed, "migrate").warn, "HA006")
	contains(v.message, `is waited for by "worker" (service_started), but`)
}

# _db(repo, programs, patch): a hardened (DHI-labelled) service "db" whose
# image's files were indexed (programs: name -> found), waited for by web.
_db(repo, programs, patch) := {
	"db": _svc("db", _absent, object.union(
		{
			"image": object.union(fx.image(repo, "1"), {
				"source": "index",
				"labels": {"com.docker.dhi.title": repo},
				"shell_found": false,
				"programs": {p: {"found": f} | some p, f in programs},
			}),
			"container": {"image": sprintf("%s:1", [repo]), "ports": []},
		},
		patch,
	)),
	"web": _svc("web", _absent, _waits({"db": "service_started"})),
}

test_ha006_database_readiness_program if {
	cases := [
		["dhi.io/postgres", "pg_isready", `test: ["CMD", "pg_isready", "-U", "postgres"]`],
		["dhi.io/mysql", "mysqladmin", `test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]`],
		["dhi.io/mariadb", "mariadb-admin", `test: ["CMD", "mariadb-admin", "ping", "-h", "localhost"]`],
		["dhi.io/redis", "redis-cli", `test: ["CMD", "redis-cli", "ping"]`],
		["dhi.io/valkey", "valkey-cli", `test: ["CMD", "valkey-cli", "ping"]`],
		["docker.io/library/mongo", "mongosh", `test: ["CMD", "mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"]`],
	]
	every c in cases {
		v := _one(_eval(_db(c[0], {c[1]: true}, {}), "db").warn, "HA006") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as {}
		endswith(v.message, sprintf("suggested probe: its own %s in an exec-form healthcheck.", [c[1]]))
		contains(v.fix.compose, c[2])
		startswith(v.fix.compose, "  db:\n    healthcheck:\n")
		contains(v.fix.summary, sprintf("its own healthcheck with %s, the readiness check", [c[1]]))
		not contains(v.fix.compose, "curl")
	}
}

test_ha005_waiting_for_a_database_suggests_its_readiness_program if {
	svcs := object.union(_db("dhi.io/postgres", {"pg_isready": true}, {}), {"web": _svc("web", _absent, _waits({"db": "service_healthy"}))})
	v := _one(_eval(svcs, "web").deny, "HA005") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as {}
	v.fix.summary == `Give "db" a healthcheck of its own with pg_isready, its image's readiness check; then this wait works as written.`
	v.fix.compose == "  db:\n    healthcheck:\n      test: [\"CMD\", \"pg_isready\", \"-U\", \"postgres\"]"
	not v.fix.actions

	# Without the program, the sidecar fix as for any service.
	none := object.union(_db("dhi.io/postgres", {"pg_isready": false}, {}), {"web": svcs.web})
	w := _one(_eval(none, "web").deny, "HA005") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as {}
	w.fix.actions == [{"op": "repoint_depends_on", "service": "web", "from": "db", "to": "db-health"}]
}

test_ha006_second_readiness_program if {
	v := _one(_eval(_db("dhi.io/mariadb", {"mariadb-admin": false, "mysqladmin": true}, {}), "db").warn, "HA006") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as {}
	contains(v.fix.compose, `test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]`)
}

test_ha006_database_without_its_program_gets_a_tcp_check if {
	v := _one(_eval(_db("dhi.io/postgres", {"pg_isready": false}, {}), "db").warn, "HA006") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as {}
	endswith(v.message, "suggested probe: a TCP connect check on port 5432 from a curl sidecar (that port does not speak HTTP).")
	contains(v.fix.compose, `test: ["CMD-SHELL", 'curl -so /dev/null --max-time 2 telnet://localhost:5432 </dev/null; case $$? in 0|28) exit 0;; *) exit 1;; esac']`)
	not contains(v.fix.compose, "http://")
}

test_ha006_script_probe_needs_the_shell if {
	# rabbitmq-diagnostics is a script: without a shell it cannot run.
	v := _one(_eval(_db("dhi.io/rabbitmq", {"rabbitmq-diagnostics": true}, {}), "db").warn, "HA006") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as {}
	contains(v.message, "TCP connect check on port 5672")
}

test_ha006_broker_without_a_program_gets_a_tcp_check if {
	every repo in ["dhi.io/kafka", "docker.io/library/memcached"] {
		v := _one(_eval(_db(repo, {}, {}), "db").warn, "HA006") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as {}
		contains(v.message, "TCP connect check on port")
		contains(v.fix.compose, "telnet://localhost:")
	}

	# The published port wins over the usual one.
	p := _db("dhi.io/kafka", {}, {"container": {"ports": [{"container_port": "29092/tcp", "host_ip": "", "host_port": "29092"}]}})
	v := _one(_eval(p, "db").warn, "HA006") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as {}
	contains(v.fix.compose, "telnet://localhost:29092")
}

test_ha006_unknown_image_on_a_non_http_port if {
	p := _db("dhi.io/something", {}, {"container": {"ports": [{"container_port": "5432/tcp", "host_ip": "", "host_port": "5432"}]}})
	v := _one(_eval(p, "db").warn, "HA006") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as {}
	contains(v.message, "TCP connect check on port 5432")
}

test_ha006_tcp_check_with_nc if {
	# A sidecar image known to have nc checks with nc -z.
	nc := {"shell": false, "programs": {"curl": true, "nc": true}}
	v := _one(_eval(_db("dhi.io/kafka", {}, {}), "db").warn, "HA006") with data.hardened.lib.image.entry as {} with data.hardened.lib.image.catalog_entry as nc
	contains(v.fix.compose, `test: ["CMD", "nc", "-z", "localhost", "9092"]`)
	not contains(v.fix.summary, "no shell")

	# Neither nc nor a shell: the curl check cannot run there, and the fix
	# says so.
	bare := {"shell": false, "programs": {"curl": true, "nc": false}}
	b := _one(_eval(_db("dhi.io/kafka", {}, {}), "db").warn, "HA006")
		with data.hardened.lib.image.entry as {}
		with data.hardened.lib.image.catalog_entry as bare
		with data.hardened.lib.image.sidecar_image as "dhi.io/curl:8-debian13-dev"
	contains(b.fix.summary, "dhi.io/curl:8-debian13-dev has no shell and no nc, so run the sidecar on an image that has either")
}

test_ha006_not_reported if {
	waits := _svc("web", _absent, _waits({"app": "service_started"}))

	# A sidecar probes it.
	_rules(_eval({"app": _svc("app", _absent, {}), "app-health": _sidecar, "web": waits}, "app").warn) == set()

	# Waited for only by a sidecar in its network namespace (compose
	# makes network_mode "service:app" a depends_on), whose process exits.
	exiting := object.union(_exiting_sidecar("app-health", "app"), {"container": {"compose": {"depends_on": {"app": {"condition": "service_started", "required": true}}}}})
	_rules(_eval({"app": _svc("app", _absent, {}), "app-health": exiting}, "app").warn) == set() with data.hardened.lib.image.entry as _curl_dev

	# Neither published nor depended on.
	_rules(_eval({"app": _svc("app", _absent, _no_ports)}, "app").warn) == set()

	# Its healthcheck runs.
	_rules(_eval({"app": _svc("app", _node_probe, {}), "web": waits}, "app").warn) == set()

	# A healthcheck that cannot run is HA002's, not HA006's.
	_rules(_eval({"app": _svc("app", fx.hc_cmd_curl, {}), "web": waits}, "app").warn) == set()

	# Not a hardened image.
	busybox := _svc("app", _absent, {"image": fx.image("docker.io/library/busybox", "1")})
	_rules(_eval({"app": busybox, "web": waits}, "app").warn) == set()
}

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

# _eval(services, name): the decision on `name` inside the project.
_eval(services, name) := d if {
	inp := object.union(services[name], {"project": {"name": "seed", "services": services}})
	d := data.hardened.main.decision with input as inp
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

# --- HA006 ------------------------------------------------------------------

test_ha006_hardened_service_publishing_without_healthcheck if {
	d := _eval({"app": _svc("app", _absent, {})}, "app")
	_rules(d.deny) == set()
	_rules(d.warn) == {"HA006"}
	v := _one(d.warn, "HA006")
	v.severity == "warning"
	v.message == "HA006: service \"app\" (image dhi.io/node:25-debian13-sfw-ent-dev, hardened) publishes port 3000/tcp, but has no healthcheck that can run and no sidecar probing it."
	v.locations == [["healthcheck"], ["ports"], ["image"]]
	contains(v.fix.compose, `test: ["CMD", "curl", "-f", "http://localhost:3000/health"]`)
	contains(v.fix.compose, `network_mode: "service:app"`)
}

test_ha006_depended_on if {
	svcs := {"app": _svc("app", _disabled, _no_ports), "web": _svc("web", _absent, _waits({"app": "service_started"}))}
	v := _one(_eval(svcs, "app").warn, "HA006")
	contains(v.message, `is depended on by "web"`)
	contains(v.fix.compose, "localhost:<port>/health")
}

test_ha006_not_reported if {
	# A sidecar probes it.
	_rules(_eval({"app": _svc("app", _absent, {}), "app-health": _sidecar}, "app").warn) == set()

	# Neither published nor depended on.
	_rules(_eval({"app": _svc("app", _absent, _no_ports)}, "app").warn) == set()

	# Its healthcheck runs.
	_rules(_eval({"app": _svc("app", _node_probe, {})}, "app").warn) == set()

	# A healthcheck that cannot run is HA002's, not HA006's.
	_rules(_eval({"app": _svc("app", fx.hc_cmd_curl, {})}, "app").warn) == set()

	# Not a hardened image.
	busybox := _svc("app", _absent, {"image": fx.image("docker.io/library/busybox", "1")})
	_rules(_eval({"app": busybox}, "app").warn) == set()
}

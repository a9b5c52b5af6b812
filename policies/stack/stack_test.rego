package hardened.rules.stack

_doc(mode, target) := {
	"source": "compose",
	"action": "service.create",
	"authz": {"plugin_name": ""},
	"service": {"name": "seed_app-health", "stack": "seed"},
	"container": {
		"name": "seed_app-health",
		"image": "dhi.io/curl:8-debian13-dev",
		"entrypoint": ["sleep", "infinity"],
		"command": [],
		"network": {"mode": mode, "target": target},
	},
}

test_ha010_service_mode_in_a_stack if {
	some v in deny with input as _doc("container", "app")
	v.rule == "HA010"
	contains(v.message, `service "seed_app-health" sets network_mode "service:app"`)
	contains(v.fix.summary, "http://app:<port>/")
	v.locations == [["network_mode"]]
}

test_ha010_not_for_other_modes if {
	count(deny) == 0 with input as _doc("default", "")
}

test_ha010_not_for_compose if {
	inp := object.union(_doc("container", "app"), {"action": "container.create"})
	count(deny) == 0 with input as object.remove(inp, ["service"])
}

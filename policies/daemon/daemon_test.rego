package hardened.rules.daemon

import data.hardened.test.fixtures as fx

_rules(d) := {v.rule | some v in d}

test_ha090_disable_own_plugin if {
	d := deny with input as fx.plugin("plugin.disable", "acme/hardened-authz:latest")
	_rules(d) == {"HA090"}
	some v in d
	v.severity == "error"
	v.title == "Request would disable, remove, reconfigure or upgrade this plugin"
	v.message == `HA090: refusing to disable plugin "acme/hardened-authz:latest": it is this authorization plugin, and disabling it through the API would silently switch off authorization for every later request.`
	contains(v.fix.summary, `remove "hardened-authz" from "authorization-plugins" in /etc/docker/daemon.json`)
	contains(v.fix.summary, "kill -HUP")
	object.keys(v.fix) == {"summary"}
}

test_ha090_every_guarded_action if {
	some v1 in deny with input as fx.plugin("plugin.remove", "hardened-authz")
	startswith(v1.message, `HA090: refusing to remove plugin "hardened-authz"`)
	some v2 in deny with input as fx.plugin("plugin.set", "hardened-authz:latest")
	contains(v2.message, "refusing to reconfigure plugin")
	contains(v2.message, "reconfiguring it through the API")
	some v3 in deny with input as fx.plugin("plugin.upgrade", "registry.example:5000/acme/hardened-authz:v2")
	contains(v3.message, "refusing to upgrade plugin")
}

test_ha090_name_comparison if {
	count(deny) == 1 with input as fx.plugin("plugin.disable", "docker.io/acme/Hardened-Authz:1.0")
	count(deny) == 1 with input as object.union(fx.plugin("plugin.disable", "hardened-authz"), {"authz": {"plugin_name": "acme/hardened-authz:latest"}})
	count(deny) == 1 with input as fx.plugin("plugin.disable", "acme/hardened-authz@sha256:abcd")
}

test_ha090_other_plugins_allowed if {
	count(deny) == 0 with input as fx.plugin("plugin.disable", "vieux/sshfs:latest")
	count(deny) == 0 with input as fx.plugin("plugin.remove", "acme/hardened-authz-old")
	count(deny) == 0 with input as fx.plugin("plugin.disable", "hardened")
}

test_ha090_other_actions_allowed if {
	count(deny) == 0 with input as fx.plugin("plugin.enable", "hardened-authz")
	count(deny) == 0 with input as fx.plugin("plugin.push", "hardened-authz")
	count(deny) == 0 with input as fx.plugin("plugin.other", "hardened-authz")
	count(deny) == 0 with input as fx.compose_create
}

test_ha090_needs_own_name if {
	count(deny) == 0 with input as object.union(fx.plugin("plugin.disable", "hardened-authz"), {"authz": {"plugin_name": ""}})
	count(deny) == 0 with input as object.remove(fx.plugin("plugin.disable", "hardened-authz"), ["authz"])
	count(deny) == 0 with input as object.remove(fx.plugin("plugin.disable", "hardened-authz"), ["plugin"])
}

test_plugin_base_name if {
	plugin_base_name("hardened-authz") == "hardened-authz"
	plugin_base_name("acme/hardened-authz:latest") == "hardened-authz"
	plugin_base_name("registry.example:5000/acme/hardened-authz:v1") == "hardened-authz"
	plugin_base_name("acme/hardened-authz@sha256:00") == "hardened-authz"
	plugin_base_name("ACME/Hardened-Authz") == "hardened-authz"
	plugin_base_name("") == ""
	not plugin_base_name(null)
}

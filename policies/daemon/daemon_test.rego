package hardened.rules.daemon

import data.hardened.test.fixtures as fx

_rules(d) := {v.rule | some v in d}

test_ha090_disable_own_plugin if {
	d := deny with input as fx.plugin("plugin.disable", "acme/hardened-authz:latest")
	_rules(d) == {"HA090"}
	some v in d
	v.severity == "error"
	v.title == "Request would disable, remove, reconfigure, upgrade or replace this plugin"
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

_own_id := "3f2a9c0000000000000000000000000000000000000000000000000000000000"

_other_id := "3f2b110000000000000000000000000000000000000000000000000000000000"

# _by(action, ref, lookup): a plugin.* request naming `ref`, with what the
# daemon said of it (input.plugin.lookup, id, resolved_name, lookup_error).
_by(action, ref, lookup) := object.union(fx.plugin(action, ref), {"plugin": lookup})

_found(id, name) := {"lookup": "found", "id": id, "resolved_name": name}

_failed := {"lookup": "failed", "lookup_error": "plugin inspect did not answer within 1s (--daemon-timeout)"}

test_ha090_by_id_resolved_to_this_plugin if {
	d := deny with input as _by("plugin.remove", "3f2a", _found(_own_id, "acme/hardened-authz:latest"))
	_rules(d) == {"HA090"}
	some v in d
	v.message == `HA090: refusing to remove plugin "3f2a" (acme/hardened-authz:latest): it is this authorization plugin, and removing it through the API would silently switch off authorization for every later request.`
	contains(v.fix.summary, `remove "hardened-authz" from "authorization-plugins"`)

	# The full ID, and every guarded action.
	count(deny) == 1 with input as _by("plugin.disable", _own_id, _found(_own_id, "hardened-authz:latest"))
	count(deny) == 1 with input as _by("plugin.set", "3f", _found(_own_id, "hardened-authz:latest"))
	count(deny) == 1 with input as _by("plugin.upgrade", "3f2a9c", _found(_own_id, "registry.example:5000/acme/hardened-authz:v2"))
}

test_ha090_by_id_resolved_to_another_plugin if {
	count(deny) == 0 with input as _by("plugin.remove", "3f2b", _found(_other_id, "vieux/sshfs:latest"))
	count(deny) == 0 with input as _by("plugin.disable", _other_id, _found(_other_id, "vieux/sshfs:latest"))
}

# The name in the path decides even when the daemon says otherwise: a
# resolver answer never lets the plugin's own name through.
test_ha090_name_wins_over_lookup if {
	count(deny) == 1 with input as _by("plugin.disable", "hardened-authz", _found(_other_id, "vieux/sshfs:latest"))
	count(deny) == 1 with input as _by("plugin.disable", "hardened-authz", {"lookup": "not_found"})
	d := deny with input as _by("plugin.disable", "hardened-authz:latest", _found(_own_id, "hardened-authz:latest"))
	some v in d
	startswith(v.message, `HA090: refusing to disable plugin "hardened-authz:latest": it is this`)
}

# daemon.json may name a managed plugin by its ID or an ID prefix; then
# --plugin-name is that, and the resolved ID is compared with it.
test_ha090_own_name_is_an_id_prefix if {
	own_id := {"authz": {"plugin_name": "3f2a9c"}}
	count(deny) == 1 with input as object.union(_by("plugin.disable", "acme/authz", _found(_own_id, "acme/authz:latest")), own_id)
	count(deny) == 1 with input as object.union(_by("plugin.disable", "3f2a9c", {"lookup": "failed"}), own_id)
	count(deny) == 0 with input as object.union(_by("plugin.disable", "3f2b", _found(_other_id, "vieux/sshfs:latest")), own_id)
}

test_ha090_unresolved_id_is_refused if {
	d := deny with input as _by("plugin.disable", "3f2a", _failed)
	_rules(d) == {"HA090"}
	some v in d
	v.message == `HA090: refusing to disable plugin "3f2a": dockerd may read it as a plugin ID or ID prefix, and the daemon could not say which plugin it names (plugin inspect did not answer within 1s (--daemon-timeout)), so it may be this authorization plugin.`
	startswith(v.fix.summary, "Name the plugin by its name as `docker plugin ls` shows it, or retry once the daemon answers.")
	contains(v.fix.summary, `remove "hardened-authz" from "authorization-plugins"`)

	# Not looked up at all (no resolver): the same, with that reason.
	some v2 in deny with input as fx.plugin("plugin.remove", "cafe")
	contains(v2.message, `could not say which plugin it names (it was not looked up)`)

	count(deny) == 1 with input as _by("plugin.set", _own_id, {"lookup": "failed"})
	count(deny) == 1 with input as _by("plugin.upgrade", "0", _failed)
}

test_ha090_unresolved_other_references_allowed if {
	# The daemon says there is no such plugin: the request fails anyway.
	count(deny) == 0 with input as _by("plugin.remove", "3f2a", {"lookup": "not_found", "lookup_error": "plugin \"3f2a\" not found"})

	# Not something dockerd can read as an ID: upper case, too long, a name.
	count(deny) == 0 with input as _by("plugin.remove", "3F2A", _failed)
	count(deny) == 0 with input as _by("plugin.remove", concat("", [_own_id, "0"]), _failed)
	count(deny) == 0 with input as _by("plugin.remove", "vieux/sshfs", _failed)
	count(deny) == 0 with input as _by("plugin.remove", "3f2a:latest", _failed)

	# Other actions, and no own name to protect.
	count(deny) == 0 with input as _by("plugin.enable", "3f2a", _failed)
	count(deny) == 0 with input as _by("plugin.inspect", "3f2a", _failed)
	count(deny) == 0 with input as object.union(_by("plugin.remove", "3f2a", _failed), {"authz": {"plugin_name": ""}})
}

# An install under this plugin's name would take its place at dockerd's
# next start or reload.
test_ha090_install_under_this_name if {
	d := deny with input as fx.plugin("plugin.install", "hardened-authz")
	_rules(d) == {"HA090"}
	some v in d
	v.message == `HA090: refusing to install a plugin named "hardened-authz": dockerd finds this authorization plugin by its name, "hardened-authz", managed plugins first, so at its next start or reload the new plugin would take this one's place and decide every request.`
	startswith(v.fix.summary, "Give the new plugin another name (docker plugin install --alias NAME")
	contains(v.fix.summary, `remove "hardened-authz" from "authorization-plugins"`)
	count(deny) == 1 with input as fx.plugin("plugin.install", "acme/hardened-authz:v2")

	count(deny) == 0 with input as fx.plugin("plugin.install", "vieux/sshfs:latest")
	count(deny) == 0 with input as fx.plugin("plugin.install", "3f2a")
	count(deny) == 0 with input as object.union(fx.plugin("plugin.install", "hardened-authz"), {"authz": {"plugin_name": ""}})
}

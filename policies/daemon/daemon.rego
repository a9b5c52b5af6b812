# METADATA
# title: Protect the authorization plugin itself
# description: |
#   `docker plugin disable|rm|set|upgrade` of a managed authorization plugin
#   takes it out of dockerd's authorization chain: every later request runs
#   unchecked. Such requests go through the plugin first, so it can refuse
#   the ones aimed at itself.
package hardened.rules.daemon

import data.hardened.lib.request
import data.hardened.lib.violation

# METADATA
# title: Request would disable, remove, reconfigure or upgrade this plugin
# description: |
#   A plugin.disable, plugin.remove, plugin.set or plugin.upgrade request
#   whose target plugin is this authorization plugin (compared without
#   registry/org prefix and :tag). Other plugins are not this rule's business.
# custom:
#   id: HA090
#   severity: error
deny contains violation.new(rego.metadata.rule(), msg, fix) if {
	request.is_plugin_change
	own := plugin_base_name(input.authz.plugin_name)
	own != ""
	target := input.plugin.name
	plugin_base_name(target) == own
	msg := sprintf(
		"refusing to %s plugin %q: it is this authorization plugin, and %s it through the API would silently switch off authorization for every later request.",
		[verbs[input.action][0], target, verbs[input.action][1]],
	)
	fix := {"summary": sprintf(
		"To do it deliberately, first stop dockerd from using the plugin: remove %q from \"authorization-plugins\" in /etc/docker/daemon.json, reload dockerd (sudo kill -HUP $(pidof dockerd)) or restart it, then run the command again.",
		[input.authz.plugin_name],
	)}
}

verbs := {
	"plugin.disable": ["disable", "disabling"],
	"plugin.remove": ["remove", "removing"],
	"plugin.set": ["reconfigure", "reconfiguring"],
	"plugin.upgrade": ["upgrade", "upgrading"],
}

# plugin_base_name("registry.example:5000/acme/hardened-authz:v1") ==
# "hardened-authz": lower-cased, without @digest, :tag and any path prefix.
plugin_base_name(name) := base if {
	is_string(name)
	no_digest := split(name, "@")[0]
	parts := split(no_digest, "/")
	last := parts[count(parts) - 1]
	base := lower(split(last, ":")[0])
}

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
# title: Request would disable, remove, reconfigure, upgrade or replace this plugin
# description: |
#   A plugin.disable, plugin.remove, plugin.set or plugin.upgrade request
#   whose target plugin is this authorization plugin: by the name in the
#   path, or by the plugin the daemon resolves the reference to (dockerd
#   accepts a name, an ID or a unique ID prefix), compared without
#   registry/org prefix and :tag. A reference that looks like an ID or ID
#   prefix and that the daemon could not resolve is refused too: it may be
#   this plugin. A plugin.install (docker plugin install or create) that
#   would give a new plugin this plugin's name is refused: dockerd looks
#   its authorization plugins up by name, managed plugins first, so at its
#   next start or reload the new plugin would take this one's place. Other
#   plugins are not this rule's business.
# custom:
#   id: HA090
#   severity: error
deny contains violation.new(rego.metadata.rule(), refusal.message, refusal.fix) if {
	guarded
	refusal
}

guarded if request.is_plugin_change

guarded if input.action == "plugin.install"

refusal := {"message": msg, "fix": {"summary": fix}} if {
	input.action == "plugin.install"
	plugin_base_name(target) == own_base
	msg := sprintf(
		"refusing to install a plugin named %q: dockerd finds this authorization plugin by its name, %q, managed plugins first, so at its next start or reload the new plugin would take this one's place and decide every request.",
		[target, own],
	)
	fix := sprintf(
		"Give the new plugin another name (docker plugin install --alias NAME, or another name for docker plugin create). %s",
		[deliberately],
	)
} else := {"message": msg, "fix": {"summary": deliberately}} if {
	request.is_plugin_change
	is_this_plugin
	msg := sprintf(
		"refusing to %s plugin %s: it is this authorization plugin, and %s it through the API would silently switch off authorization for every later request.",
		[verbs[input.action][0], described_target, verbs[input.action][1]],
	)
} else := {"message": msg, "fix": {"summary": fix}} if {
	request.is_plugin_change
	unresolved_id
	msg := sprintf(
		"refusing to %s plugin %q: dockerd may read it as a plugin ID or ID prefix, and the daemon could not say which plugin it names (%s), so it may be this authorization plugin.",
		[verbs[input.action][0], target, lookup_reason],
	)
	fix := sprintf(
		"Name the plugin by its name as `docker plugin ls` shows it, or retry once the daemon answers. %s",
		[deliberately],
	)
}

deliberately := sprintf(
	"To do it deliberately, first stop dockerd from using the plugin: remove %q from \"authorization-plugins\" in /etc/docker/daemon.json, reload dockerd (sudo kill -HUP $(pidof dockerd)) or restart it, then run the command again.",
	[own],
)

verbs := {
	"plugin.disable": ["disable", "disabling"],
	"plugin.remove": ["remove", "removing"],
	"plugin.set": ["reconfigure", "reconfiguring"],
	"plugin.upgrade": ["upgrade", "upgrading"],
}

# This plugin's own name (--plugin-name), as written in daemon.json, and
# its base name; both undefined when unknown.
own := n if {
	n := input.authz.plugin_name
	n != ""
}

own_base := b if {
	b := plugin_base_name(own)
	b != ""
}

# The plugin reference as the request's path wrote it.
target := input.plugin.name

# What the daemon said of target: "found", "not_found", "failed", or ""
# when it was not asked.
lookup := object.get(input, ["plugin", "lookup"], "")

# The request names this plugin by name.
is_this_plugin if plugin_base_name(target) == own_base

# The daemon resolves the reference (an ID, an ID prefix or another
# spelling of the name) to this plugin.
is_this_plugin if {
	lookup == "found"
	plugin_base_name(input.plugin.resolved_name) == own_base
}

# daemon.json may name a managed plugin by ID or ID prefix too.
is_this_plugin if {
	lookup == "found"
	looks_like_id(own)
	startswith(input.plugin.id, own)
}

# An ID-like reference the daemon did not resolve, nor say is no plugin.
unresolved_id if {
	own
	not lookup in {"found", "not_found"}
	looks_like_id(target)
}

# dockerd takes a lower-case hex string of up to 64 characters as a full
# ID or a unique ID prefix (after trying it as a name).
looks_like_id(ref) if regex.match(`^[0-9a-f]{1,64}$`, ref)

# `"3f2a" (acme/hardened-authz:latest)` when the daemon resolved the
# reference to another spelling, else the reference quoted.
described_target := sprintf("%q (%s)", [target, input.plugin.resolved_name]) if {
	lookup == "found"
	input.plugin.resolved_name != target
} else := sprintf("%q", [target])

lookup_reason := r if {
	r := input.plugin.lookup_error
	r != ""
} else := "it was not looked up"

# plugin_base_name("registry.example:5000/acme/hardened-authz:v1") ==
# "hardened-authz": lower-cased, without @digest, :tag and any path prefix.
plugin_base_name(name) := base if {
	is_string(name)
	no_digest := split(name, "@")[0]
	parts := split(no_digest, "/")
	last := parts[count(parts) - 1]
	base := lower(split(last, ":")[0])
}

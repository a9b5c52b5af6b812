# METADATA
# title: Violation constructor
# description: |
#   Builds the violation objects that rules put in their deny/warn sets,
#   from the rule's METADATA annotation:
#
#     # METADATA
#     # title: Short title
#     # custom:
#     #   id: HA123
#     #   severity: error
#     deny contains violation.new(rego.metadata.rule(), msg, fix) if { ... }
#
#   Result: {"rule", "severity", "title", "message", "fix", "locations"};
#   the message starts with "<ID>: ", added here so that no rule repeats
#   (or mistypes) its own ID; empty fix fields are dropped, and every text
#   is bounded so a deny message stays under 4 KiB.
#
#   locations are where `authz check` points in a compose file: paths of
#   keys under services.<service>, most precise first. They come from the
#   metadata (custom.locations: [[healthcheck, test]]), or from at() when
#   they depend on the finding (a depends_on entry). fix.actions, when the
#   fix has them, are the edits `authz check --fix` applies; they are kept
#   as they are.
package hardened.lib.violation

import data.hardened.lib.text

# Upper bounds (characters) per field; their sum stays below 4096.
limits := {
	"title": 120,
	"message": 600,
	"summary": 400,
	"compose": 1400,
	"docker_run": 800,
	"alternative": 700,
}

# new(meta, message, fix): meta is rego.metadata.rule() of the calling rule;
# message is the text after "<ID>: "; fix is an object with any of summary,
# compose, docker_run, alternative (strings) and actions (an array of edit
# objects).
new(meta, message, fix) := at(meta, message, fix, object.get(meta.custom, "locations", []))

# at(meta, message, fix, locations) is new() with the locations given.
at(meta, message, fix, locations) := {
	"rule": meta.custom.id,
	"severity": object.get(meta.custom, "severity", "error"),
	"title": text.truncate(object.get(meta, "title", meta.custom.id), limits.title),
	"message": text.truncate(concat("", [prefix, trim_prefix(message, prefix)]), limits.message),
	"fix": object.union(
		{k: text.truncate(v, object.get(limits, k, 400)) |
			some k, v in fix
			k != "actions"
			is_string(v)
			v != ""
		},
		_actions(fix),
	),
	"locations": locations,
} if {
	# Rules written before the library added the ID start their message
	# with it themselves: trim_prefix keeps the ID from showing twice.
	prefix := concat("", [meta.custom.id, ": "])
}

_actions(fix) := {"actions": a} if {
	a := fix.actions
	is_array(a)
	count(a) > 0
} else := {}

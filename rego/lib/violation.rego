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
#   Result: {"rule", "severity", "title", "message", "fix"}; empty fix fields
#   are dropped, and every text is bounded so a deny stays under 4 KiB.
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
# fix is an object with any of summary, compose, docker_run, alternative.
new(meta, message, fix) := {
	"rule": meta.custom.id,
	"severity": object.get(meta.custom, "severity", "error"),
	"title": text.truncate(object.get(meta, "title", meta.custom.id), limits.title),
	"message": text.truncate(message, limits.message),
	"fix": {k: text.truncate(v, object.get(limits, k, 400)) |
		some k, v in fix
		is_string(v)
		v != ""
	},
}

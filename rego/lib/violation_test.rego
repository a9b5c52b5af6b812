package hardened.lib.violation

import data.hardened.lib.text

_meta := {
	"scope": "rule",
	"title": "Healthcheck program missing from the image",
	"custom": {"id": "HA002", "severity": "error"},
}

test_new_builds_violation if {
	v := new(_meta, "boom", {"summary": "do this", "compose": "  x: y"})
	v == {
		"rule": "HA002",
		"severity": "error",
		"title": "Healthcheck program missing from the image",
		"message": "HA002: boom",
		"fix": {"summary": "do this", "compose": "  x: y"},
		"locations": [],
	}
}

test_new_takes_locations_from_metadata if {
	meta := object.union(_meta, {"custom": {"id": "HA002", "locations": [["healthcheck", "test"]]}})
	v := new(meta, "m", {})
	v.locations == [["healthcheck", "test"]]
}

test_at_sets_locations if {
	v := at(_meta, "m", {}, [["depends_on", "db"]])
	v.locations == [["depends_on", "db"]]
	v.rule == "HA002"
}

test_fix_actions_are_kept_whole if {
	long := concat("", [x | some _ in numbers.range(1, 600); x := "y"])
	action := {"op": "add_sidecar", "service": "app", "test": ["CMD", long]}
	v := new(_meta, "m", {"summary": "s", "actions": [action]})
	v.fix == {"summary": "s", "actions": [action]}
}

test_fix_actions_must_be_a_non_empty_array if {
	new(_meta, "m", {"actions": []}).fix == {}
	new(_meta, "m", {"actions": "add_sidecar"}).fix == {}
}

test_new_drops_empty_and_non_string_fix_fields if {
	v := new(_meta, "m", {"summary": "s", "docker_run": "", "alternative": null})
	v.fix == {"summary": "s"}
}

test_new_prefixes_the_id_once if {
	new(_meta, "boom", {}).message == "HA002: boom"

	# rules that still write the ID themselves are not doubled
	new(_meta, "HA002: boom", {}).message == "HA002: boom"

	# another ID, or one without ": ", is text like any other
	new(_meta, "HA001: boom", {}).message == "HA002: HA001: boom"
	new(_meta, "HA002 boom", {}).message == "HA002: HA002 boom"
}

test_new_truncates_after_the_prefix if {
	long := concat("", [x | some _ in numbers.range(1, 700); x := "y"])
	m := new(_meta, long, {}).message
	startswith(m, "HA002: yyy")
	count(m) == limits.message
	endswith(m, "y…")
	m == text.truncate(concat("", ["HA002: ", long]), limits.message)
}

test_new_defaults if {
	v := new({"custom": {"id": "HA999"}}, "m", {})
	v.severity == "error"
	v.title == "HA999"
	v.fix == {}
}

test_new_warning_severity if {
	v := new({"title": "t", "custom": {"id": "HA500", "severity": "warning"}}, "m", {})
	v.severity == "warning"
}

test_new_bounds_every_field if {
	long := concat("", [x | some _ in numbers.range(1, 5000); x := "y"])
	v := new(_meta, long, {"summary": long, "compose": long, "docker_run": long, "alternative": long})
	count(v.message) == limits.message
	count(v.fix.compose) == limits.compose
	endswith(v.fix.summary, "…")
	count(json.marshal(v)) < 4096 + 100
}

test_limits_stay_under_4k if {
	sum([n | some n in limits]) < 4096
}

# METADATA
# title: Annotated test rule
# custom:
#   id: HA777
#   severity: warning
_annotated contains new(rego.metadata.rule(), "annotated", {"summary": "s"})

test_new_from_rego_metadata if {
	_annotated == {{
		"rule": "HA777",
		"severity": "warning",
		"title": "Annotated test rule",
		"message": "HA777: annotated",
		"fix": {"summary": "s"},
		"locations": [],
	}}
}

package hardened.main

import data.hardened.test.fixtures as fx

# The shipped rules' IDs in a decision set. Operator rule families loaded
# next to the shipped ones (`opa test policies rego DIR`) may add their own
# violations; these tests only look at the shipped ones (HA...).
_ha(vs) := {v.rule | some v in vs; startswith(v.rule, "HA")}

test_decision_denies_article_case if {
	d := decision with input as fx.compose_create
	_ha(d.deny) == {"HA002"}
	_ha(d.warn) == set()
	object.keys(d) == {"deny", "warn"}
}

test_decision_allows_the_sidecar if {
	d := decision with input as fx.with_image(fx.compose_create, fx.image("dhi.io/curl", "8-debian13-dev"))
	_ha(d.deny) == set()
	_ha(d.warn) == set()
}

test_decision_plugin_guard if {
	d := decision with input as fx.plugin("plugin.disable", "acme/hardened-authz:latest")
	_ha(d.deny) == {"HA090"}
	_ha(deny) == set() with input as fx.plugin("plugin.disable", "vieux/sshfs")
}

test_decision_for_other_requests_is_empty if {
	_ha(deny) == set() with input as {"source": "dockerd", "action": "other"}
	_ha(deny) == set() with input as {}
}

test_decision_aggregates_every_family if {
	# Rule families are found by position (data.hardened.rules.<family>),
	# including ones added later or by operators, and their warn sets too.
	extra_deny := {{"rule": "HA900", "severity": "error", "title": "t", "message": "HA900: x", "fix": {}}}
	extra_warn := {{"rule": "HA901", "severity": "warning", "title": "t", "message": "HA901: y", "fix": {}}}
	d := decision with input as fx.compose_create
		with data.hardened.rules.extra.deny as extra_deny
		with data.hardened.rules.extra.warn as extra_warn
	_ha(d.deny) == {"HA002", "HA900"}
	_ha(d.warn) == {"HA901"}
}

test_decision_aggregates_request_rules if {
	# Families under data.hardened.requests look at every API request.
	exec_deny := {{"rule": "HA800", "severity": "error", "title": "t", "message": "HA800: no exec", "fix": {}}}
	exec_warn := {{"rule": "HA801", "severity": "warning", "title": "t", "message": "HA801: hmm", "fix": {}}}
	d := decision with input as {"action": "other"}
		with data.hardened.requests.acme.deny as exec_deny
		with data.hardened.requests.acme.warn as exec_warn
	some v in d.deny
	v == {"rule": "HA800", "severity": "error", "title": "t", "message": "HA800: no exec", "fix": {}}
	_ha(d.deny) == {"HA800"}
	_ha(d.warn) == {"HA801"}
}

test_decision_violations_have_the_contract_fields if {
	d := decision with input as fx.compose_create
	every v in d.deny {
		object.keys(v) == {"rule", "severity", "title", "message", "fix", "locations"}
		every l in v.locations {
			every k in l {
				is_string(k)
			}
		}
		startswith(v.message, sprintf("%s: ", [v.rule]))
		v.severity in {"error", "warning"}
		is_string(v.fix.summary)
	}
}

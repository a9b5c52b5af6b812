# METADATA
# title: Decision
# description: |
#   The one query the engine evaluates: data.hardened.main.decision, the union
#   of the deny and warn sets of every rule family under data.hardened.rules
#   (container creates, plugin management) and data.hardened.requests (rules
#   that look at every API request; the engine only leaves its fast path for
#   ordinary requests when such a package exists). A request is refused when
#   deny is not empty; warn is only reported.
package hardened.main

deny contains v if {
	some v in data.hardened.rules[_].deny
}

deny contains v if {
	some v in data.hardened.requests[_].deny
}

warn contains v if {
	some v in data.hardened.rules[_].warn
}

warn contains v if {
	some v in data.hardened.requests[_].warn
}

decision := {"deny": deny, "warn": warn}

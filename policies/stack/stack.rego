# METADATA
# title: Swarm stack rules
# description: |
#   Rules for compose files deployed with `docker stack deploy`, which
#   `authz check --target stack` checks: each service is the swarm service
#   the plugin sees (input.service), named <project>_<service>. Only
#   `authz check` sees what the compose file asked for: the plugin's
#   service documents never have a "container" network mode.
package hardened.rules.stack

import data.hardened.lib.request
import data.hardened.lib.violation

# METADATA
# title: "network_mode service: in a stack"
# description: |
#   The service sets network_mode "service:<name>" (or "container:<name>"),
#   but it is deployed as a swarm service: swarm services never share
#   another's network namespace, so docker stack deploy cannot run it as
#   written. A healthcheck sidecar built this way probes itself, not the
#   app.
# custom:
#   id: HA010
#   severity: error
#   locations: [[network_mode]]
deny contains violation.new(rego.metadata.rule(), msg, _ha010_fix) if {
	request.is_swarm_service
	input.container.network.mode == "container"
	msg := sprintf(
		"%s sets network_mode %q, but a stack deploys it as a swarm service, and swarm services cannot share a network namespace: it would not run beside %q, and localhost would be itself.",
		[request.subject, _mode, _target],
	)
}

_target := t if {
	t := input.container.network.target
	is_string(t)
	t != ""
} else := "<app>"

_mode := concat("", ["service:", _target])

_ha010_fix := {"summary": sprintf(
	"Remove network_mode from %s. To probe %q, give it a healthcheck that runs in its own image (its interpreter, e.g. [\"CMD\", \"node\", \"-e\", ...]), or keep a sidecar service on the stack network that probes http://%s:<port>/ instead of localhost.",
	[request.subject, _target, _target],
)}

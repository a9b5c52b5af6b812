# METADATA
# title: Compose project rules
# description: |
#   Rules that look across the services of a compose project. Only
#   `authz check` has the project (input.project): docker compose sends
#   dockerd one container at a time, and never its depends_on.
package hardened.rules.project

import data.hardened.lib.image
import data.hardened.lib.project
import data.hardened.lib.request
import data.hardened.lib.text
import data.hardened.lib.violation

# METADATA
# title: Waits for a service whose healthcheck can never pass
# description: |
#   depends_on with condition service_healthy names a service that has no
#   healthcheck that can run: it has none (and its image brings none), it
#   is disabled, or HA001/HA002 deny it. docker compose waits for it to
#   turn healthy, which never happens, so this service never starts. Wait
#   for the service's healthcheck sidecar instead (<service>-health).
# custom:
#   id: HA005
#   severity: error
deny contains violation.at(rego.metadata.rule(), msg, _ha005_fix(name), [["depends_on", name]]) if {
	project.in_project
	some name in project.waits_healthy
	doc := project.services[name]
	state := project.healthcheck_state(doc)
	state in {"none", "disabled", "broken"}
	msg := sprintf(
		"%s waits for %q to be healthy (depends_on condition: service_healthy), but %s; %s would never start.",
		[request.subject, name, _why(name, state), request.compose_service],
	)
}

_why(name, "none") := sprintf("%q has no healthcheck", [name])

_why(name, "disabled") := sprintf("the healthcheck of %q is disabled", [name])

_why(name, "broken") := sprintf("the healthcheck of %q cannot run in its image (see the finding on %q)", [name, name])

_ha005_fix(name) := {
	"summary": sprintf(
		"Wait for %q instead: it probes %q from inside its network namespace.",
		[sidecar, name],
	),
	"compose": _depends_on_snippet(sidecar),
	"actions": [_repoint(name, sidecar)],
} if {
	sidecar := project.sidecar_for(name)
} else := {
	"summary": sprintf(
		"Move the probe of %q into a hardened curl sidecar %q (network_mode: \"service:%s\"; `authz check --fix` adds it when the probe's URL is known) and wait for the sidecar instead.",
		[name, sidecar, name],
	),
	"compose": _depends_on_snippet(sidecar),
	"actions": [_repoint(name, sidecar)],
} if {
	sidecar := sprintf("%s-health", [name])
}

_repoint(from, to) := {
	"op": "repoint_depends_on",
	"service": request.compose_service,
	"from": from,
	"to": to,
}

_depends_on_snippet(sidecar) := sprintf(
	"  %s:\n    depends_on:\n      %s:\n        condition: service_healthy",
	[request.compose_service, sidecar],
)

# METADATA
# title: Hardened service without a healthcheck that can run
# description: |
#   A service on a hardened image publishes ports or is depended on, yet
#   has no healthcheck (none, or disabled) and no sidecar that shares its
#   network namespace and probes it. Nothing can tell when it is ready or
#   stuck. (A healthcheck that cannot run is HA001/HA002.)
# custom:
#   id: HA006
#   severity: warning
#   locations: [[healthcheck], [ports], [image]]
warn contains violation.new(rego.metadata.rule(), msg, _ha006_fix) if {
	project.in_project
	image.is_hardened
	project.healthcheck_state(input) in {"none", "disabled"}
	count(project.sidecars_of(request.compose_service)) == 0
	reason := _exposure
	msg := sprintf(
		"%s (image %s, hardened) %s, but has no healthcheck that can run and no sidecar probing it.",
		[request.subject, request.image_ref, reason],
	)
}

_exposure := sprintf("publishes port %s", [input.container.ports[0].container_port]) if {
	count(input.container.ports) > 0
} else := sprintf("is depended on by %s", [concat(", ", [sprintf("%q", [s]) | some s in project.dependents_of(request.compose_service)])]) if {
	count(project.dependents_of(request.compose_service)) > 0
}

_ha006_fix := {
	"summary": sprintf(
		"Add a hardened curl sidecar %q that shares the network namespace of %q and probes its health endpoint, and wait for the sidecar (condition: service_healthy).",
		[sidecar, app],
	),
	"compose": concat("\n", [
		sprintf("  %s:", [sidecar]),
		sprintf("    image: %s", [image.sidecar_image]),
		sprintf("    network_mode: %s", [text.quote(concat("", ["service:", app]))]),
		`    entrypoint: ["sleep", "infinity"]`,
		"    healthcheck:",
		sprintf(`      test: ["CMD", "curl", "-f", "http://localhost:%s/health"]`, [_port]),
		"    mem_limit: 32m",
	]),
} if {
	app := request.compose_service
	sidecar := sprintf("%s-health", [app])
}

_port := p if {
	p := split(input.container.ports[0].container_port, "/")[0]
} else := "<port>"

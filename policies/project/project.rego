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
#   healthcheck that can pass: it has none (and its image brings none), it
#   is disabled, HA001/HA002 deny it, or the service's main process exits
#   at once, so its healthcheck never runs (HA011 denies it). docker compose
#   waits for it to turn healthy, which never happens, so this service
#   never starts. Wait for the service's healthcheck sidecar instead
#   (<service>-health), or, when the service waited for is itself a sidecar
#   that exits, keep it running as HA011 says.
# custom:
#   id: HA005
#   severity: error
deny contains violation.at(rego.metadata.rule(), msg, _ha005_fix(name, state), [["depends_on", name]]) if {
	project.in_project
	some name in project.waits_healthy
	doc := project.services[name]
	state := project.healthcheck_state(doc)
	state in {"none", "disabled", "broken", "exits"}
	msg := sprintf(
		"%s waits for %q to be healthy (depends_on condition: service_healthy), but %s; %s would never start.",
		[request.subject, name, _why(name, state), request.compose_service],
	)
}

_why(name, "none") := sprintf("%q has no healthcheck", [name])

_why(name, "disabled") := sprintf("the healthcheck of %q is disabled", [name])

_why(name, "broken") := sprintf("the healthcheck of %q cannot run in its image (see the finding on %q)", [name, name])

_why(name, "exits") := sprintf("the main process of %q exits at once, so its healthcheck never runs (see the HA011 finding on %q)", [name, name])

# A service that exits is fixed where it is defined (HA011 carries the
# edit); waiting for it is right once it stays up, so nothing is repointed.
_ha005_fix(name, "exits") := {"summary": sprintf(
	"Keep %q running, as the HA011 finding on it says (for a sidecar: entrypoint: [\"sleep\", \"infinity\"], which `authz check --fix` sets); then it turns healthy and %q starts.",
	[name, request.compose_service],
)}

# A database or broker without a healthcheck gets its own readiness
# program (as HA006 suggests), which makes the wait work as written; a
# sidecar probing it over HTTP would not.
_ha005_fix(name, state) := {
	"summary": sprintf(
		"Give %q a healthcheck of its own with %s, its image's readiness check; then this wait works as written.",
		[name, t[0]],
	),
	"compose": sprintf("  %s:\n    healthcheck:\n      test: %s", [name, text.exec_array(array.concat(["CMD"], t))]),
} if {
	state in {"none", "disabled"}
	t := _program_test with input as project.services[name]
}

_ha005_fix(name, state) := _ha005_sidecar_fix(name) if {
	state != "exits"
	not _readiness_program(name, state)
}

_readiness_program(name, state) if {
	state in {"none", "disabled"}
	_program_test with input as project.services[name]
}

_ha005_sidecar_fix(name) := {
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
# title: Hardened service others wait for, without a healthcheck that can run
# description: |
#   A service on a hardened image is waited for by other services
#   (depends_on with service_started, the default, or service_healthy), yet
#   has no healthcheck (none, or disabled) and no sidecar that shares its
#   network namespace and probes it. Nothing can tell them when it is
#   ready. Publishing a port alone is no reason: nothing in the project
#   waits for it. A one-shot job, which every dependant waits for with
#   service_completed_successfully, needs no healthcheck. (A healthcheck
#   that cannot run is HA001/HA002.)
#
#   The suggested probe speaks the service's protocol: for a database or
#   broker known by its image's name (postgres, mysql, mariadb, redis,
#   valkey, mongo, rabbitmq) its own readiness program in exec form, unless
#   the image certainly lacks it; for the others of them (kafka, memcached,
#   ...), or a port known not to speak HTTP, a TCP connect check from the
#   curl sidecar; else an HTTP probe from the sidecar.
# custom:
#   id: HA006
#   severity: warning
#   locations: [[healthcheck], [image]]
warn contains violation.new(rego.metadata.rule(), msg, _ha006_fix) if {
	project.in_project
	image.is_hardened
	project.healthcheck_state(input) in {"none", "disabled"}
	count(project.sidecars_of(request.compose_service)) == 0
	count(_waiters) > 0
	msg := sprintf(
		"%s (image %s, hardened) is waited for by %s, but has no healthcheck that can run and no sidecar probing it, so nothing tells them when it is ready; suggested probe: %s.",
		[request.subject, request.image_ref, _waiters_text, _probe_text],
	)
}

# The services that wait for this one to start or be healthy: a dependant
# waiting for service_completed_successfully waits for a job to end,
# which needs no healthcheck; one that shares this service's network
# namespace (network_mode "service:", which compose turns into a
# depends_on) only needs it to exist.
_waiters := {s: c |
	some s, c in project.dependents_by_condition(request.compose_service)
	c != "service_completed_successfully"
	not _shares_network(project.services[s])
}

_shares_network(doc) if {
	doc.container.network.mode == "container"
	doc.container.network.target == request.compose_service
}

_waiters_text := concat(", ", [sprintf("%q (%s)", [s, _waiters[s]]) | some s in sort(object.keys(_waiters))])

# ---------------------------------------------------------------------------
# HA006's probe: the service's protocol decides
# ---------------------------------------------------------------------------

# Databases and brokers by image repository basename: their port, and the
# readiness programs they ship (the first the image is not known to lack is
# used; shell: the program is a script that needs the image's shell).
services_known := {
	"postgres": {"port": "5432", "probes": [{"test": ["pg_isready", "-U", "postgres"]}]},
	"postgresql": {"port": "5432", "probes": [{"test": ["pg_isready", "-U", "postgres"]}]},
	"mysql": {"port": "3306", "probes": [{"test": ["mysqladmin", "ping", "-h", "localhost"]}]},
	"mariadb": {"port": "3306", "probes": [
		{"test": ["mariadb-admin", "ping", "-h", "localhost"]},
		{"test": ["mysqladmin", "ping", "-h", "localhost"]},
	]},
	"redis": {"port": "6379", "probes": [{"test": ["redis-cli", "ping"]}]},
	"valkey": {"port": "6379", "probes": [{"test": ["valkey-cli", "ping"]}]},
	"mongo": {"port": "27017", "probes": [{"test": ["mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"]}]},
	"mongodb": {"port": "27017", "probes": [{"test": ["mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"]}]},
	"rabbitmq": {"port": "5672", "probes": [{"test": ["rabbitmq-diagnostics", "-q", "ping"], "shell": true}]},
	"kafka": {"port": "9092", "probes": []},
	"memcached": {"port": "11211", "probes": []},
	"zookeeper": {"port": "2181", "probes": []},
	"nats": {"port": "4222", "probes": []},
	"cassandra": {"port": "9042", "probes": []},
}

# Ports whose usual service does not speak HTTP, for images not known by
# name.
tcp_ports := {p | some k in services_known; p := k.port}

_basename := regex.replace(image.catalog_repository, `^.*/`, "")

_known := services_known[_basename]

# The container port to probe: the first published one, else the known
# service's own, else a placeholder.
_port := p if {
	p := split(input.container.ports[0].container_port, "/")[0]
} else := p if {
	p := _known.port
} else := "<port>"

# The readiness program to run: the first of the known service's that the
# image is not known to lack (nor the shell a script of them needs).
_program_test := t if {
	t := [p.test |
		some p in _known.probes
		not image.program_missing(p.test[0])
		not _needs_missing_shell(p)
	][0]
}

_needs_missing_shell(p) if {
	p.shell == true
	image.no_shell
}

# "program", "tcp" or "http".
_probe_kind := "program" if {
	_program_test
} else := "tcp" if {
	_known
} else := "tcp" if {
	_port in tcp_ports
} else := "http"

_probe_text := sprintf("its own %s in an exec-form healthcheck", [_program_test[0]]) if {
	_probe_kind == "program"
} else := sprintf("a TCP connect check on port %s from a curl sidecar (that port does not speak HTTP)", [_port]) if {
	_probe_kind == "tcp"
} else := sprintf("an HTTP probe of port %s from a curl sidecar", [_port])

# The sidecar image's own catalog facts, for what a TCP check can use.
_sidecar_entry := e if {
	parts := regex.find_all_string_submatch_n(`^(.+):([^:/]+)$`, image.sidecar_image, 1)[0]
	e := image.catalog_entry(parts[1], parts[2])
}

# The sidecar's TCP check: nc -z when its image certainly has nc; else
# curl's telnet://, which has no "connect only" mode, read through the
# sidecar's shell: it exits 0 when the server hangs up, 28 when the port
# accepted the connection and stayed silent until --max-time, 7 when
# nothing listens.
tcp_test(port) := ["CMD", "nc", "-z", "localhost", port] if {
	_sidecar_entry.programs.nc == true
} else := ["CMD-SHELL", sprintf("curl -so /dev/null --max-time 2 telnet://localhost:%s </dev/null; case $? in 0|28) exit 0;; *) exit 1;; esac", [port])]

_sidecar_test := tcp_test(_port) if {
	_probe_kind == "tcp"
} else := ["CMD", "curl", "-f", sprintf("http://localhost:%s/health", [_port])]

_ha006_fix := {
	"summary": sprintf(
		"Give %q its own healthcheck with %s, the readiness check %s images ship, and have the services that wait for it use condition: service_healthy.",
		[request.compose_service, _program_test[0], _basename],
	),
	"compose": concat("\n", [
		sprintf("  %s:", [request.compose_service]),
		"    healthcheck:",
		sprintf("      test: %s", [text.exec_array(array.concat(["CMD"], _program_test))]),
	]),
} if {
	_probe_kind == "program"
} else := {
	"summary": sprintf(
		"Add a hardened curl sidecar %q that shares the network namespace of %q and %s, and wait for the sidecar (condition: service_healthy).",
		[sidecar, app, _sidecar_probe_summary],
	),
	"compose": concat("\n", [
		sprintf("  %s:", [sidecar]),
		sprintf("    image: %s", [image.sidecar_image]),
		sprintf("    network_mode: %s", [text.quote(concat("", ["service:", app]))]),
		`    entrypoint: ["sleep", "infinity"]`,
		"    healthcheck:",
		sprintf("      test: %s", [_yaml_test(_sidecar_test)]),
		"    mem_limit: 32m",
	]),
} if {
	app := request.compose_service
	sidecar := sprintf("%s-health", [app])
}

_sidecar_probe_summary := sprintf("checks that port %s accepts connections (it does not speak HTTP)%s", [_port, _tcp_note]) if {
	_probe_kind == "tcp"
} else := "probes its health endpoint"

# The curl check runs through the sidecar's shell: say so when the sidecar
# image is known to have none (nor nc).
_tcp_note := sprintf("; %s has no shell and no nc, so run the sidecar on an image that has either", [image.sidecar_image]) if {
	_sidecar_entry.shell == false
	not _sidecar_entry.programs.nc == true
} else := ""

# A test as a compose file's YAML flow sequence: a CMD-SHELL command goes
# in single quotes, with its $ doubled, as compose would interpolate it.
_yaml_test(t) := sprintf(`["CMD-SHELL", '%s']`, [replace(t[1], "$", "$$")]) if {
	t[0] == "CMD-SHELL"
} else := text.exec_array(t)

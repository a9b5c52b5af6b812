# METADATA
# title: Healthcheck sidecars that cannot do their job
# description: |
#   A healthcheck sidecar (hardened.lib.sidecar: a keep-alive container that
#   probes an HTTP/TCP endpoint, or a compose service named *-health or
#   *-healthcheck) must share the app's network namespace to reach it on
#   localhost, must be able to run its own keep-alive process, and should be
#   a small, bounded, hardened container. Every rule tests is_sidecar first,
#   so ordinary containers leave after one cheap check; HA011, which holds
#   for any container with a healthcheck (a sidecar is the usual one), tests
#   the healthcheck's form first instead.
package hardened.rules.sidecar

import data.hardened.lib.fix
import data.hardened.lib.image
import data.hardened.lib.process
import data.hardened.lib.request
import data.hardened.lib.sidecar
import data.hardened.lib.text
import data.hardened.lib.violation

# METADATA
# title: Sidecar probes localhost outside the app's network namespace
# description: |
#   The sidecar's healthcheck probes localhost (127.0.0.1, [::1], 0.0.0.0,
#   any loopback spelling: healthcheck.probe_loopback), but the
#   sidecar does not share another container's network namespace
#   (network_mode "service:app", --network container:app): localhost is the
#   sidecar itself, so the probe never reaches the app and the sidecar never
#   becomes healthy.
# custom:
#   id: HA003
#   severity: error
#   locations: [[network_mode], [healthcheck, test]]
deny contains violation.new(rego.metadata.rule(), msg, ha003_fix) if {
	_sidecar
	sidecar.probes_localhost
	not sidecar.shares_network
	msg := sprintf(
		"%s (image %s) is a healthcheck sidecar probing %s, but it does not share the network namespace of %q (network mode %q): localhost is the sidecar itself, so it would stay unhealthy forever.",
		[request.subject, request.image_ref, text.truncate(request.probe_url, 200), sidecar.app_or_placeholder, _network_mode],
	)
}

# METADATA
# title: Sidecar's own program missing from its image
# description: |
#   The program the sidecar's own process runs (argv[0] of the effective
#   entrypoint, else of the command: sleep, tail, pause) is not in the
#   sidecar's image, as with `entrypoint: ["sleep", "infinity"]` on the
#   runtime dhi.io/curl image, which has curl and nothing else. The
#   container fails to start, and its healthcheck never runs.
# custom:
#   id: HA004
#   severity: error
#   locations: [[entrypoint], [command], [image]]
deny contains violation.new(rego.metadata.rule(), msg, ha004_fix) if {
	_sidecar
	sidecar.main_program_missing
	msg := sprintf(
		"%s (image %s) is a healthcheck sidecar that runs %q, which this image does not contain; the container would fail to start and never run its healthcheck.",
		[request.subject, request.image_ref, sidecar.main_program],
	)
}

# METADATA
# title: Sidecar image is not a hardened image
# description: |
#   The healthcheck sidecar runs an image that is not known to be hardened
#   (catalog or Docker Hardened Images labels). It shares the app's network
#   namespace, so it should be as small and as patched as the app.
# custom:
#   id: HA007
#   severity: warning
#   locations: [[image]]
warn contains violation.new(rego.metadata.rule(), msg, ha007_fix) if {
	_sidecar
	not image.is_hardened
	msg := sprintf(
		"%s (image %s) is a healthcheck sidecar on an image that is not a known hardened image; use %s.",
		[request.subject, request.image_ref, image.sidecar_image],
	)
}

# METADATA
# title: Sidecar without a memory limit
# description: |
#   The healthcheck sidecar has no memory limit. curl plus a keep-alive
#   process need a few MiB; a limit keeps a misbehaving probe from taking
#   the host's memory.
# custom:
#   id: HA008
#   severity: warning
#   locations: [[mem_limit], [image]]
warn contains violation.new(rego.metadata.rule(), msg, ha008_fix) if {
	_sidecar
	object.get(input.container, "memory_bytes", 0) == 0
	msg := sprintf(
		"%s (image %s) is a healthcheck sidecar without a memory limit; give it %s.",
		[request.subject, request.image_ref, fix.sidecar_memory],
	)
}

# METADATA
# title: Healthchecked container whose main process exits at once
# description: |
#   The container has a healthcheck, but its main process (the effective
#   entrypoint + command: the request's merged with the image's, see
#   hardened.lib.process) exits as soon as it starts: curl or wget making
#   one request, or a program asked only for --help or --version. The
#   healthcheck runs only while the container does, so it never passes, and
#   services that wait for it (service_healthy) never start. The usual case
#   is a curl sidecar without `entrypoint: ["sleep", "infinity"]`: the
#   dhi.io/curl images run `curl --help` and stop.
# custom:
#   id: HA011
#   severity: error
#   locations: [[entrypoint], [command], [image]]
deny contains violation.new(rego.metadata.rule(), msg, ha011_fix) if {
	request.is_container_create
	request.healthcheck_form in {"cmd", "shell"}
	process.exits_at_once
	msg := sprintf(
		"%s (image %s) has a healthcheck, but its main process %s exits at once (%s): the container stops before the healthcheck runs, so it never turns healthy and whatever waits for it (service_healthy) never starts.",
		[request.subject, request.image_ref, _argv_description, process.exit_reason],
	)
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# The one gate every rule passes first: a container create of a sidecar.
_sidecar if {
	request.is_container_create
	sidecar.is_sidecar
}

_network_mode := m if {
	m := input.container.network.mode
	is_string(m)
	m != ""
} else := "default"

# The sidecar's compose service, or its container name for docker run
# (where fix.for_target shows no compose snippet, but needs one built).
_service := s if {
	s := request.compose_service
} else := _name

_name := n if {
	n := request.container_name
	n != ""
} else := sprintf("%s-health", [sidecar.app_or_placeholder])

# The image and process the fixes suggest.
_keep_alive := sidecar.argv if sidecar.keep_alive

else := ["sleep", "infinity"]

# The docker run command of the sidecar as the fixes suggest it, on img.
_run_command(img) := fix.sidecar_run_command(_name, sidecar.app_or_placeholder, "<healthcheck options>", img, _keep_alive)

# The -dev variant of the sidecar's image: the catalog's sidecar image for
# curl, else the same reference with -dev appended to the tag.
_dev_variant := image.sidecar_image if {
	startswith(image.sidecar_image, concat("", [image.catalog_repository, ":"]))
} else := sprintf("%s-dev", [request.image_ref]) if {
	image.tag != ""
	not endswith(image.tag, "-dev")
	endswith(request.image_ref, concat("", [":", image.tag]))
}

# ---------------------------------------------------------------------------
# Fixes
# ---------------------------------------------------------------------------

# A swarm service cannot share another's network namespace: swarm has no
# network_mode "service:" (nor --network container:).
ha003_fix := {"summary": sprintf(
	"Swarm has no network_mode \"service:\": a service never shares another's network namespace, so localhost is this service itself. Probe the app from its own service with its image's interpreter (a healthcheck such as [\"CMD\", \"node\", \"-e\", ...]), or keep this sidecar service on the stack network and probe http://<service>%s/, <service> being the app's service name.",
	[_probe_port],
)} if {
	request.is_swarm_service
} else := fix.for_target(
	sprintf(
		"Run the sidecar in the network namespace of %q so that localhost is the app: %s.",
		[app, fix.join_network(app)],
	),
	sprintf("  %s:\n    network_mode: \"service:%s\"\n    # and no ports:, networks: or hostname: of its own", [_service, app]),
	_run_command(_run_image),
) if {
	app := sidecar.app_or_placeholder
}

# The ":port" of the probe URL, "" when it names none.
_probe_port := m[0][1] if {
	m := regex.find_all_string_submatch_n(`^[A-Za-z]+://(?:[^/@?#]*@)?(?:\[[^\]]*\]|[^/:?#]*)(:[0-9]{1,5})`, request.probe_url, 1)
	count(m) == 1
} else := ""

# The sidecar's image for a docker run fix: its -dev variant when its own
# program is missing (HA004), else the image as requested.
_run_image := v if {
	sidecar.main_program_missing
	v := _dev_variant
} else := request.image_ref

ha004_fix := fix.for_target(
	sprintf(
		"Use the -dev variant of the image (%s), which has %q, or keep the sidecar alive with a program this image has.",
		[dev, text.basename(sidecar.main_program)],
	),
	sprintf("  %s:\n    image: %s", [_service, dev]),
	_run_command(dev),
) if {
	dev := _dev_variant
} else := {"summary": sprintf(
	"This image has no %q: keep the sidecar alive with a program the image has, or use an image that has it (%s).",
	[text.basename(sidecar.main_program), image.sidecar_image],
)}

ha007_fix := fix.for_target(
	sprintf("Run the sidecar on the hardened curl image %s, probing with curl.", [image.sidecar_image]),
	sprintf("  %s:\n    image: %s\n    entrypoint: %s", [_service, image.sidecar_image, text.exec_array(_keep_alive)]),
	_run_command(image.sidecar_image),
)

ha008_fix := fix.for_target(
	"Limit the sidecar's memory to 32M: curl and a keep-alive process need a few MiB.",
	sprintf("  %s:\n    deploy:\n      resources:\n        limits:\n          memory: 32M\n    # or: mem_limit: 32m", [_service]),
	sprintf("docker run --memory 32m ... (on the running container: docker update --memory 32m --memory-swap 32m %s)", [_name]),
)

# How HA011 names the process: where it came from when the request did
# not say.
_argv_description := sprintf("%s (the image's entrypoint and command, as the catalog knows them)", [text.truncate(process.argv_text, 200)]) if {
	process.argv_source == "catalog"
} else := text.truncate(process.argv_text, 200)

# The container only carries a healthcheck (a sidecar, or a probe tool as
# its process), so keeping it alive with sleep is the fix; anything else
# should run the program it is for.
_ha011_keep_alive if sidecar.is_sidecar

_ha011_keep_alive if sidecar.probes_endpoint

_ha011_keep_alive if process.program in process.one_shot_programs

# Switching the image is part of the fix when this one has no sleep.
_ha011_image_note := sprintf(" %s has no sleep, so run it on %s, which has.", [request.image_ref, process.keep_alive_image]) if {
	process.lacks_sleep
} else := ""

_ha011_image_line := sprintf("\n    image: %s", [process.keep_alive_image]) if {
	process.lacks_sleep
} else := ""

_ha011_command_line := "\n    # and no command: (sleep infinity takes no other argument)" if {
	count(request.command) > 0
} else := ""

ha011_fix := {"summary": sprintf(
	"Keep the service alive with `sleep infinity` as its main process, so its healthcheck runs beside it: in the stack file set entrypoint: [\"sleep\", \"infinity\"] on it (docker service update --entrypoint \"sleep infinity\"%s).%s",
	[_ha011_service_image, _ha011_image_note],
)} if {
	_ha011_keep_alive
	request.is_swarm_service
} else := object.union(
	fix.for_target(
		sprintf("Keep the container alive with `sleep infinity` as its main process, so its healthcheck runs beside it (%s exits at once).%s", [process.program, _ha011_image_note]),
		sprintf("  %s:%s\n    entrypoint: [\"sleep\", \"infinity\"]%s", [_service, _ha011_image_line, _ha011_command_line]),
		sprintf("docker run --entrypoint sleep <the same options> %s infinity", [process.keep_alive_image]),
	),
	_ha011_actions,
) if {
	_ha011_keep_alive
} else := {"summary": sprintf(
	"Run the program the container is for: %s only prints and exits, so give it the command that starts its service (without %s).",
	[text.truncate(process.argv_text, 200), process.argv[1]],
)}

_ha011_service_image := sprintf(" --image %s", [process.keep_alive_image]) if {
	process.lacks_sleep
} else := ""

# The edit `authz check --fix` applies (compose files only).
_ha011_actions := {"actions": [object.union(
	{"op": "set_entrypoint", "service": request.compose_service, "entrypoint": process.keep_alive},
	_ha011_action_image,
)]} if {
	input.source == "compose"
	request.is_compose
} else := {}

_ha011_action_image := {"image": process.keep_alive_image} if process.lacks_sleep

else := {}

# METADATA
# title: Healthcheck sidecars
# description: |
#   What a healthcheck sidecar is: a container that exists only to carry
#   another container's healthcheck (the hardened curl image sharing the
#   app's network namespace). A container is a sidecar when
#     (a) its effective healthcheck probes an HTTP or TCP endpoint (a probe
#         URL, or the healthcheck runs curl, wget or nc) AND its main process
#         only keeps it alive (entrypoint+command is `sleep infinity`,
#         `sleep inf`, `sleep <at least a day>`, `tail -f /dev/null`,
#         `pause` or `/pause`), or
#     (b) it is a compose service whose name ends in -health or -healthcheck.
#   Security teams can extend the definition in Rego: more `is_sidecar if`,
#   `keep_alive if` or `probes_endpoint if` rules in a file of this package
#   (package hardened.lib.sidecar) loaded with the policies.
#
#   Every helper here is cheap: the name test is one regex on a short
#   string, the process test looks at at most three argv words.
package hardened.lib.sidecar

import data.hardened.lib.image
import data.hardened.lib.request
import data.hardened.lib.text

# Programs whose healthcheck probes an HTTP or TCP endpoint.
probe_programs := {"curl", "wget", "nc"}

# Suffixes of a sidecar's compose service (or container) name.
name_pattern := `^(.+)-health(check)?$`

# A keep-alive `sleep N` must sleep at least this long (seconds).
min_sleep_seconds := 86400

# ---------------------------------------------------------------------------
# The definition
# ---------------------------------------------------------------------------

# (b) by name: the cheapest test first.
is_sidecar if by_name

# (a) by what it does.
is_sidecar if {
	keep_alive
	probes_endpoint
}

# The compose service's name ends in -health or -healthcheck (after at
# least one character): endswith, not a regex, as every create asks.
by_name if {
	endswith(request.compose_service, "-health")
	count(request.compose_service) > 7
}

by_name if {
	endswith(request.compose_service, "-healthcheck")
	count(request.compose_service) > 12
}

# The effective healthcheck probes an HTTP or TCP endpoint.
probes_endpoint if request.probe_url != ""

probes_endpoint if {
	request.healthcheck_form == "cmd"
	text.basename(request.healthcheck.program) in probe_programs
}

probes_endpoint if {
	request.healthcheck_form == "shell"
	some c in object.get(request.healthcheck, "commands", [])
	text.basename(c) in probe_programs
}

# The effective entrypoint+command, as the container's process runs it.
argv := array.concat(request.entrypoint, request.command)

# The basename of the process's argv[0] (undefined without one): computed
# once, and the first thing keep_alive checks.
_program := text.basename(argv[0])

# The main process only keeps the container alive.
keep_alive if {
	_program == "sleep"
	count(argv) == 2
	_forever(argv[1])
}

keep_alive if {
	_program == "tail"
	count(argv) == 3
	argv[1] in {"-f", "-F"}
	argv[2] == "/dev/null"
}

keep_alive if {
	_program == "pause"
	count(argv) == 1
}

_forever(s) if lower(s) in {"infinity", "inf"}

_forever(s) if {
	parts := regex.find_all_string_submatch_n(`^([0-9]+(?:\.[0-9]+)?)([smhd]?)$`, s, 1)[0]
	to_number(parts[1]) * _unit[parts[2]] >= min_sleep_seconds
}

_unit := {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

# ---------------------------------------------------------------------------
# Facts about a sidecar
# ---------------------------------------------------------------------------

# The probe URL's host is the container itself. The normalizer parses it
# (healthcheck.probe_loopback): localhost, *.localhost, ip6-localhost,
# 127.0.0.0/8, 0.0.0.0, ::1, :: and v4-mapped loopback, in every spelling
# curl accepts (127.1, 2130706433, [0:0:0:0:0:0:0:1], localhost.).
probes_localhost if request.healthcheck.probe_loopback == true

# A document without probe_loopback (built by hand, or by an older
# normalizer): the host is localhost, 127.0.0.1 or [::1].
probes_localhost if {
	not "probe_loopback" in object.keys(request.healthcheck)
	regex.match(
		`^(?i)https?://([^/?#@]*@)?(localhost|127\.0\.0\.1|\[::1\])(:[0-9]*)?([/?#].*)?$`,
		request.probe_url,
	)
}

# The sidecar shares another container's network namespace.
shares_network if input.container.network.mode == "container"

# The app the sidecar serves: the compose service name without its
# -health/-healthcheck suffix, else the container name without one, else
# the one running container that owns the probed port (probe_app);
# undefined when none of these names it.
app_name := a if {
	a := regex.replace(request.compose_service, name_pattern, "$1")
	a != request.compose_service
} else := a if {
	not request.is_compose
	a := regex.replace(request.container_name, name_pattern, "$1")
	a != request.container_name
} else := a if {
	# The one running container that owns the probed port (resolved by the
	# plugin for a localhost probe outside a shared namespace).
	a := input.container.probe_app.compose.service
	request.is_compose
} else := a if {
	a := input.container.probe_app.name
	is_string(a)
	a != ""
}

# The app for fixes: app_name, else the placeholder "<app>".
app_or_placeholder := a if {
	a := app_name
} else := "<app>"

# The program the sidecar's own process runs: argv[0] of the effective
# entrypoint, else of the command; undefined when there is none.
main_program := argv[0] if {
	is_string(argv[0])
	argv[0] != ""
}

# The image certainly lacks the sidecar's own program. The "the container
# runs P" evidence of program_missing is left out: it is the claim under
# test.
main_program_missing if image.image_program_missing(main_program)

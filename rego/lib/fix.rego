# METADATA
# title: Fix builders
# description: |
#   Ready-to-paste fixes for a healthcheck that cannot run in its image:
#   the hardened curl sidecar that shares the app's network namespace (compose
#   service or docker run), and the exec-form probe that lets the image's own
#   interpreter (node, python3) make the HTTP request.
#
#   Pure builders take every value as an argument. The input-bound helpers
#   pick the request's target, so that a rule writes each fix once for
#   compose and docker run (for_target, join_network), and sidecar_fix is
#   the ready-made fix object for the current input.
package hardened.lib.fix

import data.hardened.lib.image
import data.hardened.lib.request
import data.hardened.lib.text

max_url_length := 512

# The sidecar's memory limit (curl plus sleep need a few MiB).
sidecar_memory := "32m"

# usable_url(url): an http(s) URL short enough and plain enough to be pasted
# into YAML, a shell command and a JS/Python string literal ('...'): no
# quotes, backslashes, $, backticks, spaces or control characters.
usable_url(url) if {
	count(url) <= max_url_length
	regex.match(`^https?://[A-Za-z0-9._~:/?#\[\]@!&*+,;=%()-]+$`, url)
}

# sidecar_name("app") == "app-health".
sidecar_name(app) := sprintf("%s-health", [app])

# The sidecar's healthcheck (exec form). A curl probe keeps its own
# arguments; anything else becomes `curl -f URL`.
sidecar_test(hc, url) := array.concat(["CMD", "curl"], hc.args) if {
	hc.form == "cmd"
	text.basename(hc.program) == "curl"
	is_array(hc.args)
	url in hc.args
} else := ["CMD", "curl", "-f", url]

# The healthcheck timings that are set, as [compose key, value, docker run
# flag], in the order people write them.
timings(hc) := [[key, value, flag] |
	some t in [
		["interval", "interval_ns", "--health-interval"],
		["timeout", "timeout_ns", "--health-timeout"],
		["retries", "retries", "--health-retries"],
		["start_period", "start_period_ns", "--health-start-period"],
	]
	n := hc[t[1]]
	is_number(n)
	n > 0
	value := _timing_value(t[0], n)
	key := t[0]
	flag := t[2]
]

_timing_value(k, n) := format_int(n, 10) if k == "retries"

else := text.duration(n)

# compose_sidecar(service, hc, url, sidecar_image, inherited): the sidecar
# service to add under `services:`, and what to change around it.
compose_sidecar(service, hc, url, sidecar_image, inherited) := sprintf(_compose_template, [
	name,
	sidecar_image,
	text.quote(concat("", ["service:", service])),
	text.exec_array(sidecar_test(hc, url)),
	concat("", [sprintf("\n      %s: %s", [t[0], t[1]]) | some t in timings(hc)]),
	sidecar_memory,
	_compose_app_line(service, inherited),
	name,
]) if {
	name := sidecar_name(service)
}

# One sprintf for the whole snippet (the timings, "\n      key: value"
# each, follow the test line).
_compose_template := concat("\n", [
	"  %s:",
	"    image: %s",
	"    network_mode: %s",
	`    entrypoint: ["sleep", "infinity"]`,
	"    healthcheck:",
	"      test: %s%s",
	"    mem_limit: %s",
	"%s",
	"  #   depends_on: {%s: {condition: service_healthy}}",
])

_compose_app_line(service, true) := sprintf("  # Then turn off the image's healthcheck in %q (healthcheck: {disable: true}), and have services that wait for it use:", [service])

_compose_app_line(service, false) := sprintf("  # Then remove the healthcheck from %q, and have services that wait for it use:", [service])

# docker_run_sidecar(name, hc, url, sidecar_image, inherited): the docker run
# command for the sidecar ("<app>" when the container has no name).
docker_run_sidecar(name, hc, url, sidecar_image, inherited) := concat("\n", [
	_docker_run_app_line(app, inherited),
	sidecar_run_command(
		sidecar_name(app), app,
		sprintf("--health-cmd %s%s", [
			_shell_probe(url),
			concat("", [sprintf(" %s %s", [t[2], t[1]]) | some t in timings(hc)]),
		]),
		sidecar_image, ["sleep", "infinity"],
	),
]) if {
	app := _name_or_placeholder(name)
}

# sidecar_run_command(name, app, health, sidecar_image, keep_alive): the
# docker run command that starts sidecar `name` in the network namespace of
# container `app`, with the healthcheck options `health` (flags, or a
# placeholder) and the keep-alive argv (["sleep", "infinity"]). Every
# sidecar fix starts its sidecar with it, so they all look the same.
sidecar_run_command(name, app, health, sidecar_image, keep_alive) := sprintf(
	"docker run -d --name %s --network container:%s --memory %s %s --entrypoint %s %s %s",
	[
		name, app, sidecar_memory, health,
		keep_alive[0], sidecar_image, concat(" ", array.slice(keep_alive, 1, count(keep_alive))),
	],
)

_name_or_placeholder(name) := name if name != ""

else := "<app>"

_docker_run_app_line(app, true) := sprintf("# run %s with --no-healthcheck (its image's HEALTHCHECK cannot run), then:", [app])

_docker_run_app_line(app, false) := sprintf("# run %s without --health-cmd (add --no-healthcheck), then:", [app])

# --health-cmd always runs through the sidecar's shell: quote the URL when
# it has characters a shell would interpret.
_shell_probe(url) := sprintf(`"curl -f %s"`, [url]) if regex.match(`^[A-Za-z0-9._~:/=%+,@-]+$`, url)

else := sprintf(`'curl -f "%s"'`, [url])

# interpreter_test(interp, url): an exec-form healthcheck that makes the
# request with the image's own interpreter (undefined for other programs).
interpreter_test(interp, url) := ["CMD", interp, "-e", js] if {
	image.interpreter_kind(interp) == "node"
	js := sprintf("fetch('%s').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))", [url])
} else := ["CMD", interp, "-c", py] if {
	image.interpreter_kind(interp) == "python"
	py := sprintf("import sys,urllib.request;sys.exit(0 if urllib.request.urlopen('%s',timeout=5).status<400 else 1)", [url])
}

# alternative(interp, url, subject, compose): the no-sidecar fix, one line.
# docker run --health-cmd always sends CMD-SHELL, so outside compose the
# exec form goes into a Dockerfile HEALTHCHECK.
alternative(interp, url, subject, true) := sprintf(
	"Without a sidecar, let the image's own %s make the request: in %s use  test: %s",
	[text.basename(interp), subject, text.exec_array(interpreter_test(interp, url))],
)

alternative(interp, url, _, false) := sprintf(
	"Without a sidecar, let the image's own %s make the request; docker run --health-cmd always needs a shell, so put it in a Dockerfile FROM this image:  HEALTHCHECK CMD %s",
	[text.basename(interp), text.exec_array(array.slice(interpreter_test(interp, url), 1, 4))],
)

# sidecar_summary(subject, app, compose, sidecar_image): fix.summary.
sidecar_summary(subject, app, true, sidecar_image) := sprintf(
	"Move the probe into a hardened curl sidecar (%s) that shares the network namespace of %s, and point depends_on ... condition: service_healthy at %q.",
	[sidecar_image, subject, sidecar_name(app)],
)

sidecar_summary(subject, app, false, sidecar_image) := sprintf(
	"Move the probe into a hardened curl sidecar (%s) that shares the network namespace of %s (--network container:%s), and start %s with --no-healthcheck.",
	[sidecar_image, subject, _name_or_placeholder(app), _name_or_placeholder(app)],
)

# ---------------------------------------------------------------------------
# For the current input: its target (compose or docker run) and its fix
# ---------------------------------------------------------------------------

# for_target(summary, compose, docker_run): the fix for the request's
# target, {summary, compose} for a container compose creates, else
# {summary, docker_run}, so that a rule writes each fix once. Rego builds
# every argument before the call: each must be defined for both targets
# (give a compose-only value a fallback), and the text not shown is built
# for nothing, which is cheap for rare findings but not for the common
# HA001/HA002 denial (see _sidecar_base).
for_target(summary, compose, docker_run) := {"summary": summary, "compose": compose} if {
	request.is_compose
} else := {"summary": summary, "docker_run": docker_run}

# join_network(app): how a sidecar joins the network namespace of app,
# written for the request's target: the compose key or the docker run flag.
join_network(app) := sprintf(`network_mode: "service:%s"`, [app]) if request.is_compose

else := sprintf("--network container:%s", [app])

# sidecar_fix: {summary, compose | docker_run, alternative?} for the current
# container-create; undefined when the healthcheck has no usable probe URL.
sidecar_fix := object.union_n([_sidecar_base, _alternative, _sidecar_actions]) if usable_url(request.probe_url)

_compose := request.is_compose

_inherited := request.healthcheck_inherited

default _compose := false

default _inherited := false

# Not for_target: it would build both the compose snippet and the docker
# run command on every HA001/HA002 denial (a tenth more of the decision's
# allocations, measured); this chain builds only the one shown.
_sidecar_base := {
	"summary": sidecar_summary(request.subject, request.compose_service, true, image.sidecar_image),
	"compose": compose_sidecar(
		request.compose_service, request.healthcheck, request.probe_url,
		image.sidecar_image, _inherited,
	),
} if {
	_compose
} else := {"summary": swarm_sidecar_summary(request.subject, request.probe_url, _swarm_host)} if {
	request.is_swarm_service
} else := {
	"summary": sidecar_summary(request.subject, request.container_name, false, image.sidecar_image),
	"docker_run": docker_run_sidecar(
		request.container_name, request.healthcheck, request.probe_url,
		image.sidecar_image, _inherited,
	),
}

# swarm_sidecar_summary(subject, url, host): a swarm service cannot share
# another's network namespace (no network_mode "service:", no
# --network container:), so its probe moves to a sidecar service that
# reaches it over the stack network by name, or to the image's interpreter.
swarm_sidecar_summary(subject, url, host) := sprintf(
	"Swarm services cannot share a network namespace, so a localhost sidecar cannot carry this probe: run a sidecar service on %s's network (hardened curl image %s, `sleep infinity`) whose healthcheck probes %s, and remove the healthcheck from %s.",
	[subject, image.sidecar_image, swarm_url(url, host), subject],
)

# swarm_url(url, host): url with its host (and any user info) replaced by
# host, the name other services reach this one by.
swarm_url(url, host) := regex.replace(url, `^([A-Za-z][A-Za-z0-9+.-]*://)(?:[^/@?#]*@)?(?:\[[^\]]*\]|[^/:?#]*)`, concat("", ["${1}", host]))

_swarm_host := request.swarm_service

default _swarm_host := "<service>"

# The edit `authz check --fix` applies: only compose files can be edited,
# so a dockerd decision does not build it.
_sidecar_actions := {"actions": [sidecar_action(
	request.compose_service, request.healthcheck, request.probe_url,
	image.sidecar_image, _inherited,
)]} if {
	input.source == "compose"
	_compose
} else := {}

# sidecar_action(service, hc, url, sidecar_image, inherited): the
# add_sidecar edit, with the same sidecar as compose_sidecar's snippet.
sidecar_action(service, hc, url, sidecar_image, inherited) := object.union(
	{
		"op": "add_sidecar",
		"service": service,
		"name": sidecar_name(service),
		"image": sidecar_image,
		"test": sidecar_test(hc, url),
		"mem_limit": sidecar_memory,
		"app_healthcheck": _app_healthcheck(inherited),
	},
	{t[0]: v | some t in timings(hc); v := _action_timing(t)},
)

_app_healthcheck(true) := "disable"

_app_healthcheck(false) := "remove"

_action_timing(t) := to_number(t[1]) if t[0] == "retries"

else := t[1]

_alternative := {"alternative": alternative(image.interpreter, request.probe_url, request.subject, _compose)} if {
	interpreter_test(image.interpreter, request.probe_url)
} else := {}

# METADATA
# title: Healthchecks that cannot run in their image
# description: |
#   Hardened images (Docker Hardened Images, Chainguard, distroless) ship
#   without a shell, curl, wget or coreutils. A healthcheck that needs one of
#   them fails on every probe: the container keeps running but never becomes
#   healthy, and everything that waits for service_healthy hangs.
package hardened.rules.healthcheck

import data.hardened.lib.fix
import data.hardened.lib.image
import data.hardened.lib.request
import data.hardened.lib.text
import data.hardened.lib.violation

# METADATA
# title: CMD-SHELL healthcheck in an image without a shell
# description: |
#   The effective healthcheck (from the request or inherited from the image)
#   is CMD-SHELL, which dockerd runs with Config.Shell or /bin/sh -c, and the
#   image has no such shell. Every probe fails with
#   `stat /bin/sh: no such file or directory`.
# custom:
#   id: HA001
#   severity: error
#   locations: [[healthcheck, test], [image]]
deny contains violation.new(rego.metadata.rule(), msg, ha001_fix) if {
	request.is_container_create
	request.healthcheck_form == "shell"
	shell_missing
	msg := sprintf(
		"HA001: %s (image %s): %s is CMD-SHELL (%s), and this image has no shell (%s); it would stay unhealthy forever.",
		[request.subject, request.image_ref, _which, _shell_excerpt, shell_binary],
	)
}

# METADATA
# title: Healthcheck program missing from the image
# description: |
#   The effective healthcheck is exec form (["CMD", program, ...]) and the
#   program (curl, wget, an absolute path, ...) is not in the image. Every
#   probe fails with `executable file not found in $PATH`.
# custom:
#   id: HA002
#   severity: error
#   locations: [[healthcheck, test], [image]]
deny contains violation.new(rego.metadata.rule(), msg, ha002_fix) if {
	request.is_container_create
	request.healthcheck_form == "cmd"
	program := missing_program
	msg := sprintf(
		"HA002: %s (image %s): %s runs %q, which this image does not contain; it would stay unhealthy forever.",
		[request.subject, request.image_ref, _which, program],
	)
}

# METADATA
# title: Healthcheck program missing from the image
# description: |
#   The same mistake in shell form, as with `docker run --health-cmd 'curl
#   ...'` on a -dev image: the image has the shell, but a program the command
#   runs (the first word of a simple command, input.container.healthcheck.
#   commands) is not in the image. The shell answers `curl: not found`.
# custom:
#   id: HA002
#   severity: error
#   locations: [[healthcheck, test], [image]]
deny contains violation.new(rego.metadata.rule(), msg, ha002_fix) if {
	request.is_container_create
	request.healthcheck_form == "shell"
	not shell_missing
	program := missing_program
	msg := sprintf(
		"HA002: %s (image %s): %s is CMD-SHELL (%s) and runs %q, which this image does not contain; it would stay unhealthy forever.",
		[request.subject, request.image_ref, _which, _shell_excerpt, program],
	)
}

# ---------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------

# The shell a CMD-SHELL healthcheck runs: Config.Shell[0], else /bin/sh.
default shell_binary := "/bin/sh"

shell_binary := s if {
	s := request.healthcheck.program
	is_string(s)
	s != ""
} else := s if {
	s := request.healthcheck.shell[0]
	is_string(s)
	s != ""
}

# The program the healthcheck runs that the image certainly lacks: argv[0]
# of an exec-form check; the first such command of a CMD-SHELL check.
missing_program := p if {
	request.healthcheck_form == "cmd"
	p := request.healthcheck.program
	is_string(p)
	p != ""
	image.program_missing(p)
} else := p if {
	request.healthcheck_form == "shell"
	missing := [c |
		some c in object.get(request.healthcheck, "commands", [])
		is_string(c)
		image.program_missing(c)
	]
	p := missing[0]
}

# /bin/sh follows the shell facts (scan, label, catalog); a custom SHELL
# (["/bin/bash", "-c"], ["/busybox/sh", "-c"]) follows the program facts.
shell_missing if {
	shell_binary == "/bin/sh"
	image.no_shell
}

shell_missing if {
	shell_binary != "/bin/sh"
	image.program_missing(shell_binary)
}

_which := "the healthcheck inherited from the image" if request.healthcheck_inherited

else := "the healthcheck"

_shell_excerpt := sprintf("%q", [text.truncate(c, 80)]) if {
	c := request.healthcheck.shell_command
	is_string(c)
	c != ""
} else := "empty command"

# ---------------------------------------------------------------------------
# Fixes
# ---------------------------------------------------------------------------

# With an HTTP probe URL: the curl sidecar (and the interpreter alternative).
ha001_fix := fix.sidecar_fix

ha002_fix := fix.sidecar_fix

# Without one: say what to change in the healthcheck itself.
ha001_fix := f if {
	not fix.sidecar_fix
	f := {
		"summary": "This image has no shell: rewrite the healthcheck in exec form, [\"CMD\", \"<program>\", \"<arg>\"], with a program the image contains, or use a -dev variant of the image, which has a shell.",
		"docker_run": _no_shell_docker_run,
	}
}

ha002_fix := {"summary": sprintf(
	"This image has no %q: use a variant of the image that contains it (or an image built FROM it that adds it), or probe with a program the image does have, in exec form: [\"CMD\", \"<program>\", \"<arg>\"].",
	[text.basename(missing_program)],
)} if {
	not fix.sidecar_fix
}

# docker run --health-cmd always sends CMD-SHELL: outside compose, an
# exec-form healthcheck can only come from the image (Dockerfile).
_no_shell_docker_run := "" if request.is_compose

else := "# docker run --health-cmd always runs through a shell; put an exec-form probe in a Dockerfile FROM this image instead:  HEALTHCHECK CMD [\"<program>\", \"<arg>\"]"

# METADATA
# title: Healthchecks that cannot run in their image
# description: |
#   Hardened images (Docker Hardened Images, Chainguard, distroless) ship
#   without a shell, curl, wget or coreutils. A healthcheck that needs one of
#   them fails on every probe: the container keeps running but never becomes
#   healthy, and everything that waits for service_healthy hangs.
package hardened.rules.healthcheck

import data.hardened.lib.fix
import data.hardened.lib.healthcheck
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

	# Also tested by shell_missing, but here it spares most creates (exec
	# form, or no healthcheck) a look into the library.
	request.healthcheck_form == "shell"
	healthcheck.shell_missing
	msg := sprintf(
		"%s (image %s): %s is CMD-SHELL (%s), and this image has no shell (%s); it would stay unhealthy forever.",
		[request.subject, request.image_ref, _which, _shell_excerpt, healthcheck.shell_binary],
	)
}

# METADATA
# title: Healthcheck program missing from the image
# description: |
#   The program the effective healthcheck runs is not in the image: argv[0]
#   of an exec-form check (["CMD", program, ...]: curl, wget, an absolute
#   path, ...), which fails with `executable file not found in $PATH`; or,
#   in shell form, a command the shell runs (the first word of a simple
#   command, input.container.healthcheck.commands), as with `docker run
#   --health-cmd 'curl ...'` on a -dev image, where the shell answers
#   `curl: not found`. A CMD-SHELL check without its shell is HA001's.
# custom:
#   id: HA002
#   severity: error
#   locations: [[healthcheck, test], [image]]
deny contains violation.new(rego.metadata.rule(), msg, ha002_fix) if {
	request.is_container_create
	program := healthcheck.missing_program
	msg := _ha002_message(program)
}

# ---------------------------------------------------------------------------
# Message parts
# ---------------------------------------------------------------------------

# A CMD-SHELL check is quoted in HA002's message: the missing program is one
# word of its command.
_ha002_message(program) := sprintf(
	"%s (image %s): %s is CMD-SHELL (%s) and runs %q, which this image does not contain; it would stay unhealthy forever.",
	[request.subject, request.image_ref, _which, _shell_excerpt, program],
) if {
	request.healthcheck_form == "shell"
} else := sprintf(
	"%s (image %s): %s runs %q, which this image does not contain; it would stay unhealthy forever.",
	[request.subject, request.image_ref, _which, program],
)

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
	[text.basename(healthcheck.missing_program)],
)} if {
	not fix.sidecar_fix
}

# docker run --health-cmd always sends CMD-SHELL: outside compose, an
# exec-form healthcheck can only come from the image (Dockerfile).
_no_shell_docker_run := "" if request.is_compose

else := "# docker run --health-cmd always runs through a shell; put an exec-form probe in a Dockerfile FROM this image instead:  HEALTHCHECK CMD [\"<program>\", \"<arg>\"]"

# METADATA
# title: Healthchecks that cannot run in their image
# description: |
#   Hardened images (Docker Hardened Images, Chainguard, distroless) ship
#   without a shell, curl, wget or coreutils. A healthcheck that needs one of
#   them fails on every probe: the container keeps running but never becomes
#   healthy, and everything that waits for service_healthy hangs. And some
#   tests dockerd cannot run in any image (HA009); one of them, ["CMD"],
#   makes dockerd before 29.5 panic.
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

# METADATA
# title: Healthcheck dockerd cannot run
# description: |
#   The effective healthcheck's test (the request's, or the image's
#   HEALTHCHECK) is one dockerd cannot run as a check, in any image:
#   ["CMD"] with no program, which dockerd before 29.5 panics on at the
#   first probe (daemon/health.go: getEntrypointAndArgs indexes an empty
#   slice), taking the whole daemon down; ["CMD", ""]; ["CMD-SHELL"] with no
#   command; ["CMD-SHELL", ""], which always passes without checking
#   anything; or a first element other than NONE, CMD and CMD-SHELL, which
#   dockerd accepts and never runs. Judged by
#   hardened.lib.healthcheck.invalid and problem.
# custom:
#   id: HA009
#   severity: error
#   locations: [[healthcheck, test], [image]]
deny contains violation.new(rego.metadata.rule(), msg, ha009_fix) if {
	request.is_container_create
	request.healthcheck_form == "invalid"
	what := _ha009_what[healthcheck.problem]
	msg := sprintf("%s (image %s): %s %s", [request.subject, request.image_ref, _which, what])
}

_ha009_what := {
	"no_program": `is ["CMD"], an exec test with no program to run: dockerd before 29.5 panics at its first probe and exits, and restarting it (without live-restore) stops every container on the host; later versions fail every probe.`,
	"empty_program": `is an exec test whose program is empty (["CMD", ""]): there is nothing to execute, so every probe fails and the container would stay unhealthy forever.`,
	"no_command": `is ["CMD-SHELL"], a shell test with no command: the shell is started with nothing to run (sh -c), so every probe fails and the container would stay unhealthy forever.`,
	"empty_command": `is a CMD-SHELL test with an empty command: the shell runs nothing and exits 0, so the container would report healthy without anything being checked.`,
	"unknown_type": sprintf(
		`has the unknown test type %s: the first element must be "CMD", "CMD-SHELL" or "NONE" (case-sensitive); dockerd accepts it but never runs the check, so the container never becomes healthy.`,
		[text.quote(text.truncate(healthcheck.declared_type, 60))],
	),
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

# HA009: write the test dockerd expects, or turn the healthcheck off.
ha009_fix := fix.for_target(
	sprintf("%s%s", [_ha009_summary[healthcheck.problem], _ha009_inherited]),
	sprintf(
		"  %s:\n    healthcheck:\n      test: %s\n      # or, for no healthcheck at all: disable: true",
		[_ha009_service, _ha009_test[healthcheck.problem]],
	),
	"docker run --health-cmd '<command>' ...  (CMD-SHELL: the image needs a shell), or docker run --no-healthcheck ...",
)

_ha009_off := "healthcheck: {disable: true}" if request.is_compose

else := "--no-healthcheck"

_ha009_summary := {
	"no_program": sprintf(`Name the program the exec test runs, ["CMD", "<program>", "<arg>"], with a program the image contains; or turn the healthcheck off (%s).`, [_ha009_off]),
	"empty_program": sprintf(`Name the program the exec test runs, ["CMD", "<program>", "<arg>"], with a program the image contains; or turn the healthcheck off (%s).`, [_ha009_off]),
	"no_command": sprintf(`Give the shell test its command, ["CMD-SHELL", "<command>"]; or turn the healthcheck off (%s).`, [_ha009_off]),
	"empty_command": sprintf(`Give the shell test a command that checks something, ["CMD-SHELL", "<command>"]; or, to have no healthcheck, turn it off (%s).`, [_ha009_off]),
	"unknown_type": _ha009_type_summary,
}

# "cmd" or "Cmd-Shell": only the case is wrong. Anything else is most
# likely the program itself, without its type.
_ha009_type_summary := sprintf(`Write the test type in capitals, %s: dockerd compares it case-sensitively.`, [text.quote(upper(healthcheck.declared_type))]) if {
	upper(healthcheck.declared_type) in {"CMD", "CMD-SHELL", "NONE"}
} else := sprintf(
	`Start the test with its type: "CMD" to execute a program (["CMD", %s, ...]), "CMD-SHELL" to run a shell command, or "NONE" for no healthcheck.`,
	[text.quote(text.truncate(healthcheck.declared_type, 60))],
)

_ha009_test := {
	"no_program": `["CMD", "<program>", "<arg>"]`,
	"empty_program": `["CMD", "<program>", "<arg>"]`,
	"no_command": `["CMD-SHELL", "<command>"]`,
	"empty_command": `["CMD-SHELL", "<command>"]`,
	"unknown_type": _ha009_type_test,
}

_ha009_type_test := sprintf(`[%s, "<program or command>"]`, [text.quote(upper(healthcheck.declared_type))]) if {
	upper(healthcheck.declared_type) in {"CMD", "CMD-SHELL"}
} else := `["CMD", "<program>", "<arg>"]`

_ha009_inherited := " The test comes from the image's HEALTHCHECK: give the container a healthcheck of its own, or turn it off, and fix the image's Dockerfile." if {
	request.healthcheck_inherited
} else := ""

_ha009_service := s if {
	s := request.compose_service
} else := "<service>"

# docker run --health-cmd always sends CMD-SHELL: outside compose, an
# exec-form healthcheck can only come from the image (Dockerfile).
_no_shell_docker_run := "" if request.is_compose

else := "# docker run --health-cmd always runs through a shell; put an exec-form probe in a Dockerfile FROM this image instead:  HEALTHCHECK CMD [\"<program>\", \"<arg>\"]"

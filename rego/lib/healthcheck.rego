# METADATA
# title: Can the healthcheck run in its image
# description: |
#   Whether the effective healthcheck of a container (its own, or the one
#   inherited from the image's HEALTHCHECK) can run in the container's
#   image: its shell (CMD-SHELL) and its program (CMD, or the commands of a
#   CMD-SHELL check) judged by hardened.lib.image. The healthcheck rules
#   (HA001, HA002) report these facts, and hardened.lib.project asks them of
#   every service of a project, so they live here rather than in a rule
#   family that a library cannot depend on.
#
#   Like the image facts, they only hold on certainty: a shell or program
#   that is not known to be missing counts as there.
#
#   A test dockerd cannot run at all (input form "invalid": ["CMD"],
#   ["CMD", ""], ["CMD-SHELL"], ["CMD-SHELL", ""], an unknown test type) is
#   `invalid`, with its `problem`; HA009 reports it, whatever the image.
package hardened.lib.healthcheck

import data.hardened.lib.image
import data.hardened.lib.request

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

# A CMD-SHELL healthcheck whose shell the image certainly lacks. /bin/sh
# follows the shell facts (scan, label, catalog); a custom SHELL
# (["/bin/bash", "-c"], ["/busybox/sh", "-c"]) follows the program facts.
shell_missing if {
	request.healthcheck_form == "shell"
	shell_binary == "/bin/sh"
	image.no_shell
}

shell_missing if {
	request.healthcheck_form == "shell"
	shell_binary != "/bin/sh"
	image.program_missing(shell_binary)
}

# The program the healthcheck runs that the image certainly lacks: argv[0]
# of an exec-form check; the first such command of a CMD-SHELL check whose
# shell is there (without it no command runs, and shell_missing says so).
missing_program := p if {
	request.healthcheck_form == "cmd"
	p := request.healthcheck.program
	is_string(p)
	p != ""
	image.program_missing(p)
} else := p if {
	request.healthcheck_form == "shell"
	not shell_missing
	missing := [c |
		some c in object.get(request.healthcheck, "commands", [])
		is_string(c)
		image.program_missing(c)
	]
	p := missing[0]
}

# The test is one dockerd cannot run as a check (see problem).
invalid if request.healthcheck_form == "invalid"

# Why an invalid test cannot run, from input.container.healthcheck.problem:
#   no_program     ["CMD"]: dockerd before 29.5 panics at the first probe
#                  and the whole daemon exits; 29.5+ fails every probe
#   empty_program  ["CMD", ""]: nothing to exec, every probe fails
#   no_command     ["CMD-SHELL"]: `sh -c` without a command, every probe
#                  fails
#   empty_command  ["CMD-SHELL", ""]: `sh -c ""` exits 0, so the container
#                  is healthy without anything checked
#   unknown_type   test[0] is not NONE, CMD or CMD-SHELL (case-sensitive):
#                  dockerd never runs it, the container has no health status
# Undefined unless invalid.
problem := p if {
	invalid
	p := request.healthcheck.problem
	p in problems
}

problems := {"no_program", "empty_program", "no_command", "empty_command", "unknown_type"}

# test[0] as written ("" when there is none).
declared_type := t if {
	t := request.healthcheck.test[0]
	is_string(t)
} else := ""

# The healthcheck certainly cannot run (as a check) in its image: on a
# container create, exactly when HA001, HA002 or HA009 reports it. Never
# for a healthcheck that is disabled or absent.
cannot_run if shell_missing

cannot_run if missing_program

cannot_run if invalid

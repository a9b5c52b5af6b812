package hardened.lib.healthcheck

import data.hardened.test.fixtures as fx

_on(base, repo, tg) := fx.with_image(base, fx.image(repo, tg))

_none := {"form": "none", "inherited": false, "test": ["NONE"], "program": "", "args": [], "probe_url": ""}

_absent := {"form": "absent", "inherited": false, "test": [], "program": "", "args": [], "probe_url": ""}

test_shell_binary if {
	shell_binary == "/bin/sh" with input as fx.with_hc(fx.compose_create, fx.hc_shell_curl)
	shell_binary == "/bin/bash" with input as fx.with_hc(fx.compose_create, object.union(fx.hc_shell_curl, {"program": "/bin/bash"}))
	shell_binary == "/busybox/sh" with input as fx.with_hc(fx.compose_create, object.union(fx.hc_shell_curl, {"program": "", "shell": ["/busybox/sh", "-c"]}))
	shell_binary == "/bin/sh" with input as fx.with_hc(fx.compose_create, _absent)
}

test_shell_missing if {
	shell_missing with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_shell_curl)
	not shell_missing with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), fx.hc_shell_curl)
	not shell_missing with input as fx.with_hc(_on(fx.compose_create, "docker.io/library/nginx", "1"), fx.hc_shell_curl)
}

test_shell_missing_only_for_cmd_shell if {
	# An exec-form check needs no shell, whatever the image lacks.
	not shell_missing with input as _on(fx.compose_create, "dhi.io/node", "24")
	not shell_missing with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), _none)
}

test_shell_missing_custom_shell_is_a_program if {
	bash := object.union(fx.hc_shell_curl, {"program": "/bin/bash", "shell": ["/bin/bash", "-c"]})
	shell_missing with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-alpine3.22-dev"), bash)
	busybox := object.union(fx.hc_shell_curl, {"program": "/busybox/sh", "shell": ["/busybox/sh", "-c"]})
	not shell_missing with input as fx.with_hc(_on(fx.compose_create, "gcr.io/distroless/base-debian12", "debug"), busybox)
}

test_missing_program_exec_form if {
	missing_program == "curl" with input as fx.compose_create
	missing_program == "/usr/bin/curl" with input as fx.with_hc(fx.compose_create, fx.hc_cmd(["/usr/bin/curl", "-f", fx.url]))
	not missing_program with input as _on(fx.compose_create, "dhi.io/curl", "8")
	not missing_program with input as fx.with_hc(_on(fx.compose_create, "dhi.io/postgres", "17"), fx.hc_cmd(["pg_isready"]))
}

test_missing_program_shell_form_first_missing_command if {
	hc := object.union(fx.hc_shell("node probe.js && wget -q http://localhost:3000/"), {"commands": ["node", "wget", "curl"]})
	missing_program == "wget" with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), hc)

	# without the shell, no command runs: the shell is what is missing
	not missing_program with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_shell_curl)
}

test_missing_program_not_for_none_or_absent if {
	not missing_program with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), _none)
	not missing_program with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), _absent)
}

test_cannot_run if {
	cannot_run with input as fx.compose_create
	cannot_run with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_shell("pg_isready -U postgres"))
	cannot_run with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), fx.hc_shell_curl)
	not cannot_run with input as _on(fx.compose_create, "dhi.io/curl", "8-debian13-dev")
	not cannot_run with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_cmd(["node", "-e", "process.exit(0)"]))
	not cannot_run with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), _none)
	not cannot_run with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), _absent)
}

test_invalid_and_problem if {
	inp := fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), fx.hc_invalid(["CMD"], "no_program"))
	invalid with input as inp
	problem == "no_program" with input as inp
	declared_type == "CMD" with input as inp
	cannot_run with input as inp

	# An invalid test runs nothing: neither the shell nor a program is
	# what is wrong, whatever the image lacks.
	not shell_missing with input as inp
	not missing_program with input as inp

	unknown := fx.with_hc(fx.compose_create, fx.hc_invalid(["/bin/cat", "/tmp/ok"], "unknown_type"))
	problem == "unknown_type" with input as unknown
	declared_type == "/bin/cat" with input as unknown
}

test_problem_only_when_invalid if {
	not invalid with input as fx.compose_create
	not problem with input as fx.compose_create
	not problem with input as fx.with_hc(fx.compose_create, object.union(fx.hc_cmd_curl, {"problem": "no_program"}))
	not problem with input as fx.with_hc(fx.compose_create, fx.hc_invalid(["CMD"], "made_up"))
	declared_type == "" with input as fx.with_hc(fx.compose_create, _absent)
}

test_truncated_shell_command_still_needs_its_shell if {
	# A command too long to parse has no commands, but its shell is known:
	# a hardened image without one still cannot run it.
	hc := object.union(fx.hc_shell_curl, {"commands": [], "truncated": true})
	shell_missing with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24"), hc)
	not missing_program with input as fx.with_hc(_on(fx.compose_create, "dhi.io/node", "24-dev"), hc)
}

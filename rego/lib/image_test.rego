package hardened.lib.image

import data.hardened.test.fixtures as fx

_on(repo, tg) := fx.with_image(fx.compose_create, fx.image(repo, tg))

_keys(repo) := k if {
	k := prefix_keys with input as _on(repo, "1")
}

_fam(repo, tg) := f if {
	f := family with input as _on(repo, tg)
}

# ---------------------------------------------------------------------------
# Catalog matching
# ---------------------------------------------------------------------------

test_catalog_dhi_families if {
	_fam("dhi.io/node", "25-debian13-sfw-ent-dev") == "dhi-node-dev"
	_fam("dhi.io/node", "25-dev") == "dhi-node-dev"
	_fam("dhi.io/node", "25") == "dhi-node"
	_fam("dhi.io/node", "25-debian13") == "dhi-node"
	_fam("dhi.io/node", "25-alpine3.22-dev") == "dhi-node-alpine-dev"
	_fam("dhi.io/python", "3.13-debian13-dev") == "dhi-python-dev"
	_fam("dhi.io/python", "3.13") == "dhi-python"
	_fam("dhi.io/curl", "8-debian13-dev") == "dhi-curl-dev"
	_fam("dhi.io/curl", "8") == "dhi-curl"
	_fam("dhi.io/redis", "8-debian13-dev") == "dhi-dev"
	_fam("dhi.io/redis", "8.2-alpine3.22-dev") == "dhi-alpine-dev"
	_fam("dhi.io/redis", "8") == "dhi"
	_fam("dhi.io/busybox", "1") == "dhi-shell-images"
}

test_catalog_dhi_mirror_on_docker_hub if {
	_fam("docker.io/acme/dhi-node", "25") == "dhi-node"
	_fam("docker.io/acme/dhi-node", "25-dev") == "dhi-node-dev"
	_fam("docker.io/acme/dhi-curl", "8") == "dhi-curl"
	_fam("docker.io/acme/dhi-redis", "8") == "dhi"
}

test_catalog_dev_tag_with_dots if {
	_fam("dhi.io/postgres", "17.6-debian13-dev") == "dhi-dev"
	_fam("dhi.io/postgres", "17.6") == "dhi"
}

test_catalog_chainguard if {
	_fam("cgr.dev/chainguard/node", "latest") == "chainguard-node"
	_fam("cgr.dev/chainguard/node", "latest-dev") == "chainguard-node-dev"
	_fam("cgr.dev/chainguard/nginx", "latest") == "chainguard"
	_fam("cgr.dev/chainguard/nginx", "latest-dev") == "chainguard-dev"
	_fam("cgr.dev/chainguard/curl", "latest") == "chainguard-curl"
	_fam("cgr.dev/chainguard/wolfi-base", "latest") == "chainguard-shell-images"
}

test_catalog_distroless if {
	_fam("gcr.io/distroless/static-debian12", "nonroot") == "distroless"
	_fam("gcr.io/distroless/base-debian12", "debug") == "distroless-debug"
	_fam("gcr.io/distroless/base-debian12", "debug-nonroot") == "distroless-debug"
	_fam("gcr.io/distroless/nodejs22-debian12", "latest") == "distroless-nodejs"
	_fam("gcr.io/distroless/python3-debian12", "debug") == "distroless-python3-debug"
}

test_catalog_unknown_images if {
	_fam("docker.io/library/nginx", "latest") == ""
	_fam("docker.io/acme/node", "25") == ""
	_fam("ghcr.io/acme/dhi.io/node", "25") == ""
	not entry with input as _on("docker.io/library/nginx", "latest")

	# an image ID: no repository, no tag
	_fam("", "") == ""
	_keys("") == []
}

test_catalog_star_does_not_cross_slash if {
	_fam("dhi.io/acme/node", "25") == ""
	_fam("docker.io/a/b/dhi-node", "25") == ""
}

test_catalog_unknown_tag_matches_only_tagless_entries if {
	# dhi.io/node@sha256:... : dev or runtime is unknown.
	_fam("dhi.io/node", "") == ""
	_fam("dhi.io/busybox", "") == "dhi-shell-images"
}

test_catalog_mirror_keeps_input_repository if {
	_fam("docker.io/acme/dhi-curl", "8-dev") == "dhi-curl-dev"
	_fam("docker.io/acme/dhi-busybox", "") == "dhi-shell-images"
	_fam("ghcr.io/acme/dhi-node", "25") == ""
	repository == "docker.io/acme/dhi-node" with input as _on("docker.io/acme/dhi-node", "25")
	catalog_repository == "dhi.io/node" with input as _on("docker.io/acme/dhi-node", "25")
}

test_canonical_repository if {
	canonical_repository("docker.io/acme/dhi-node") == "dhi.io/node"
	canonical_repository("docker.io/acme/dhi-node-exporter") == "dhi.io/node-exporter"
	canonical_repository("docker.io/library/node") == "docker.io/library/node"
	canonical_repository("docker.io/a/b/dhi-node") == "docker.io/a/b/dhi-node"
	canonical_repository("ghcr.io/acme/dhi-node") == "ghcr.io/acme/dhi-node"
	canonical_repository("dhi.io/node") == "dhi.io/node"
}

test_catalog_first_tag_match_wins_within_a_key if {
	cat := {"images": {"dhi.io/node": [
		{"family": "first", "tag": "*", "shell": true},
		{"family": "second", "tag": "*", "shell": false},
	]}}
	_fam("dhi.io/node", "25") == "first" with data.catalog as cat
	shell_fact with input as _on("dhi.io/node", "25") with data.catalog as cat
}

test_catalog_exact_key_before_prefix_key if {
	cat := {"images": {
		"dhi.io/*": [{"family": "generic", "tag": "*"}],
		"dhi.io/node": [{"family": "node", "tag": "*"}],
	}}
	_fam("dhi.io/node", "25") == "node" with data.catalog as cat
	_fam("dhi.io/redis", "8") == "generic" with data.catalog as cat
}

test_catalog_exact_key_falls_through_to_prefix_key if {
	cat := {"images": {
		"dhi.io/*": [{"family": "generic-dev", "tag": "*-dev"}, {"family": "generic"}],
		"dhi.io/node": [{"family": "node-22", "tag": "22*"}],
	}}
	_fam("dhi.io/node", "22-dev") == "node-22" with data.catalog as cat
	_fam("dhi.io/node", "25-dev") == "generic-dev" with data.catalog as cat
	_fam("dhi.io/node", "25") == "generic" with data.catalog as cat
	_fam("dhi.io/node", "") == "generic" with data.catalog as cat
}

test_catalog_longest_prefix_key_wins if {
	cat := {"images": {
		"gcr.io/distroless/*": [{"family": "short"}],
		"gcr.io/distroless/nodejs*": [{"family": "long", "tag": "*"}],
	}}
	_keys("gcr.io/distroless/nodejs22-debian12") == ["gcr.io/distroless/nodejs*", "gcr.io/distroless/*"] with data.catalog as cat
	_fam("gcr.io/distroless/nodejs22-debian12", "latest") == "long" with data.catalog as cat
	_fam("gcr.io/distroless/nodejs", "latest") == "long" with data.catalog as cat

	# the longer key has no entry for an unknown tag: the shorter one decides
	_fam("gcr.io/distroless/nodejs22-debian12", "") == "short" with data.catalog as cat
	_fam("gcr.io/distroless/static-debian12", "latest") == "short" with data.catalog as cat
}

test_catalog_prefix_key_star_does_not_cross_slash if {
	_keys("gcr.io/distroless/nodejs/x") == []
	_keys("dhi.io/acme/node") == []
	_keys("dhi.io/node") == ["dhi.io/*"]
	_fam("gcr.io/distroless/nodejs/x", "latest") == ""
	_fam("cgr.dev/chainguard/node/x", "latest") == ""
	_fam("cgr.dev/chainguard", "latest") == ""
}

test_catalog_entry if {
	catalog_entry("dhi.io/curl", "8-dev").family == "dhi-curl-dev"
	catalog_entry("dhi.io/curl", "8").family == "dhi-curl"
	catalog_entry("docker.io/acme/dhi-curl", "8").family == "dhi-curl"
	catalog_entry("gcr.io/distroless/python3-debian12", "nonroot").family == "distroless-python3"
	not catalog_entry("docker.io/library/nginx", "latest")
	not catalog_entry("dhi.io/node", "")
}

test_catalog_list_format_is_ignored if {
	# the former format (an ordered array) is not read: the image is unknown
	cat := {"images": [{"family": "old", "repositories": ["dhi.io/*"]}]}
	not entry with input as _on("dhi.io/node", "25") with data.catalog as cat
	not catalog_entry("dhi.io/node", "25") with data.catalog as cat
}

test_catalog_missing_means_unknown if {
	inp := _on("dhi.io/node", "25")
	not entry with input as inp with data.catalog as {}
	has_shell with input as inp with data.catalog as {}
	not program_missing("curl") with input as inp with data.catalog as {}
}

test_sidecar_image if {
	sidecar_image == "dhi.io/curl:8-debian13-dev"
	sidecar_image == "registry.local/curl:8-dev" with data.catalog.sidecar_image as "registry.local/curl:8-dev"
	sidecar_image == "dhi.io/curl:8-debian13-dev" with data.catalog as {}
}

test_is_hardened if {
	is_hardened with input as _on("dhi.io/node", "25")
	is_hardened with input as _on("gcr.io/distroless/static-debian12", "latest")
	not is_hardened with input as _on("docker.io/library/nginx", "latest")
	is_hardened with input as fx.with_image(fx.compose_create, object.union(
		fx.image("docker.io/acme/app", "1"),
		{"labels": {"com.docker.dhi.variant": "runtime"}},
	))
}

# ---------------------------------------------------------------------------
# Shell
# ---------------------------------------------------------------------------

test_shell_from_catalog if {
	no_shell with input as _on("dhi.io/node", "25")
	not has_shell with input as _on("dhi.io/node", "25")
	has_shell with input as _on("dhi.io/node", "25-dev")
	shell_fact == true with input as _on("dhi.io/node", "25-dev")
	no_shell with input as _on("dhi.io/curl", "8")
	has_shell with input as _on("dhi.io/curl", "8-debian13-dev")
	no_shell with input as _on("cgr.dev/chainguard/node", "latest")
	has_shell with input as _on("cgr.dev/chainguard/node", "latest-dev")
	no_shell with input as _on("gcr.io/distroless/static-debian12", "latest")
	no_shell with input as _on("gcr.io/distroless/base-debian12", "debug")
	shell_source == "catalog" with input as _on("dhi.io/node", "25")
}

test_shell_unknown_image_is_assumed_present if {
	inp := _on("docker.io/library/nginx", "latest")
	not shell_fact with input as inp
	has_shell with input as inp
	not no_shell with input as inp
	shell_source == "unknown" with input as inp
}

_labelled(repo, tg, lbls) := fx.with_image(fx.compose_create, object.union(fx.image(repo, tg), {"labels": lbls}))

test_shell_label_empty_means_no_shell if {
	# Overrides the catalog (-dev has a shell) and covers unknown images.
	no_shell with input as _labelled("dhi.io/node", "25-dev", {"com.docker.dhi.shell": ""})
	no_shell with input as _labelled("docker.io/acme/app", "1", {"com.docker.dhi.shell": ""})
	shell_source == "label" with input as _labelled("docker.io/acme/app", "1", {"com.docker.dhi.shell": ""})
}

test_shell_label_non_empty_means_shell if {
	has_shell with input as _labelled("dhi.io/node", "25", {"com.docker.dhi.shell": "/bin/bash"})
	shell_fact == true with input as _labelled("dhi.io/node", "25", {"com.docker.dhi.shell": "bash"})
}

test_shell_found_wins_over_label_and_catalog if {
	inp := object.union(
		_labelled("dhi.io/node", "25-dev", {"com.docker.dhi.shell": "/bin/bash"}),
		{"image": {"shell_found": false}},
	)
	no_shell with input as inp
	shell_source == "index" with input as inp
	has_shell with input as object.union(_on("dhi.io/node", "25"), {"image": {"shell_found": true}})
}

test_shell_from_entrypoint_script if {
	inp := object.union(_on("dhi.io/postgres", "17"), {"container": {"entrypoint": ["docker-entrypoint.sh"], "command": ["postgres"]}})
	has_shell with input as inp
	shell_source == "entrypoint" with input as inp
	has_shell with input as object.union(_on("dhi.io/postgres", "17"), {"container": {"entrypoint": ["/bin/bash", "-c", "x"]}})
	no_shell with input as object.union(_on("dhi.io/node", "25"), {"container": {"entrypoint": ["node"], "command": ["server.js"]}})
}

# ---------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------

test_program_curl_missing_from_dhi_node if {
	program_missing("curl") with input as _on("dhi.io/node", "25-debian13-sfw-ent-dev")
	program_missing("curl") with input as _on("dhi.io/node", "25")
	program_missing("wget") with input as _on("dhi.io/node", "25-dev")
	program_fact("curl") == false with input as _on("dhi.io/node", "25")
	program_source("curl") == "catalog" with input as _on("dhi.io/node", "25")
}

test_program_absolute_path_uses_basename if {
	program_missing("/usr/bin/curl") with input as _on("dhi.io/node", "25-dev")
	not program_missing("/usr/bin/curl") with input as _on("dhi.io/curl", "8")
}

test_program_curl_present_in_dhi_curl if {
	has_program("curl") with input as _on("dhi.io/curl", "8-debian13-dev")
	has_program("curl") with input as _on("dhi.io/curl", "8")
	program_fact("curl") == true with input as _on("dhi.io/curl", "8")
	has_program("sleep") with input as _on("dhi.io/curl", "8-debian13-dev")
	program_missing("sleep") with input as _on("dhi.io/curl", "8")
}

test_program_coreutils if {
	has_program("sleep") with input as _on("dhi.io/node", "25-dev")
	program_missing("sleep") with input as _on("dhi.io/node", "25")
	program_missing("cat") with input as _on("dhi.io/redis", "8")
	program_missing("tail") with input as _on("gcr.io/distroless/static-debian12", "latest")
	has_program("sleep") with input as _on("gcr.io/distroless/base-debian12", "debug")
}

test_program_unknown_is_present if {
	not program_fact("pg_isready") with input as _on("dhi.io/postgres", "17")
	has_program("pg_isready") with input as _on("dhi.io/postgres", "17")
	program_source("pg_isready") == "unknown" with input as _on("dhi.io/postgres", "17")
	has_program("curl") with input as _on("docker.io/library/nginx", "latest")

	# alpine -dev: busybox may have wget
	has_program("wget") with input as _on("dhi.io/node", "25-alpine3.22-dev")
	program_missing("curl") with input as _on("dhi.io/node", "25-alpine3.22-dev")
}

test_program_shells_follow_shell_fact if {
	program_missing("sh") with input as _on("dhi.io/node", "25")
	program_missing("/bin/bash") with input as _on("dhi.io/node", "25")
	has_program("bash") with input as _on("dhi.io/node", "25-dev")
	program_missing("bash") with input as _on("dhi.io/node", "25-alpine3.22-dev")
	program_source("sh") == "shell" with input as _on("dhi.io/node", "25")
	has_program("sh") with input as _labelled("dhi.io/node", "25", {"com.docker.dhi.shell": "/bin/sh"})
}

test_program_distroless_debug_busybox if {
	inp := _on("gcr.io/distroless/base-debian12", "debug")
	has_program("sh") with input as inp
	has_program("/busybox/sh") with input as inp
	program_missing("/bin/sh") with input as inp
	program_missing("curl") with input as inp
	has_program("wget") with input as inp
}

test_program_scan_wins if {
	found := object.union(_on("dhi.io/node", "25"), {"image": {"programs": {"curl": {"found": true, "path": "/usr/local/bin/curl"}}}})
	has_program("curl") with input as found
	program_source("curl") == "index" with input as found

	missing := object.union(_on("docker.io/library/postgres", "17"), {"image": {"programs": {"pg_isready": {"found": false, "path": ""}}}})
	program_missing("pg_isready") with input as missing

	abs := object.union(_on("dhi.io/curl", "8"), {"image": {"programs": {"/usr/bin/curl": {"found": false, "path": ""}}}})
	program_missing("/usr/bin/curl") with input as abs
	has_program("curl") with input as abs
}

test_program_run_by_container_is_present if {
	inp := object.union(_on("dhi.io/curl", "8"), {"container": {"entrypoint": ["sleep", "infinity"]}})
	has_program("sleep") with input as inp
	program_source("sleep") == "entrypoint" with input as inp
}

test_fact_and_source_come_from_one_chain if {
	shell == {"value": false, "source": "catalog"} with input as _on("dhi.io/node", "25")
	shell == {"value": false, "source": "label"} with input as _labelled("dhi.io/node", "25-dev", {"com.docker.dhi.shell": ""})
	shell == {"source": "unknown"} with input as _on("docker.io/library/nginx", "latest")
	program("curl") == {"value": false, "source": "catalog"} with input as _on("dhi.io/node", "25")
	program("pg_isready") == {"source": "unknown"} with input as _on("dhi.io/postgres", "17")
	program("/bin/sh") == {"value": false, "source": "shell"} with input as _on("dhi.io/node", "25")

	# the container's own program: program says present, image_program asks the image
	inp := object.union(_on("dhi.io/curl", "8"), {"container": {"entrypoint": ["sleep", "infinity"]}})
	program("sleep") == {"value": true, "source": "entrypoint"} with input as inp
	image_program("sleep") == {"value": false, "source": "catalog"} with input as inp
	image_program_missing("sleep") with input as inp
	not program_missing("sleep") with input as inp
}

test_shell_unknown_falls_through_for_sh if {
	# /bin/sh on an image whose shell is unknown: no shell fact, so the
	# catalog's programs and then "unknown" decide, as for any program.
	cat := {"images": {"docker.io/acme/app": [{"family": "acme", "programs": {"sh": false}}]}}
	program("/bin/sh") == {"value": false, "source": "catalog"} with input as _on("docker.io/acme/app", "1") with data.catalog as cat
	program("/bin/sh") == {"source": "unknown"} with input as _on("docker.io/library/nginx", "latest")
	not program_fact("/bin/sh") with input as _on("docker.io/library/nginx", "latest")
}

# ---------------------------------------------------------------------------
# Interpreters
# ---------------------------------------------------------------------------

test_interpreter_kind if {
	interpreter_kind("node") == "node"
	interpreter_kind("/nodejs/bin/node") == "node"
	interpreter_kind("nodejs") == "node"
	interpreter_kind("python3") == "python"
	interpreter_kind("/usr/local/bin/python3.12") == "python"
	interpreter_kind("python") == "python"
	not interpreter_kind("curl")
	not interpreter_kind("python2")
	not interpreter_kind("node-gyp")
}

test_interpreter_from_catalog if {
	interpreter == "node" with input as _on("dhi.io/node", "25")
	interpreter == "python3" with input as _on("dhi.io/python", "3.13-dev")
	interpreter == "node" with input as _on("cgr.dev/chainguard/node", "latest")
	interpreter == "/nodejs/bin/node" with input as _on("gcr.io/distroless/nodejs22-debian12", "nonroot")
	not interpreter with input as _on("dhi.io/redis", "8")
	not interpreter with input as _on("docker.io/library/nginx", "latest")
}

test_interpreter_from_container_argv if {
	interpreter == "/usr/local/bin/python3.12" with input as object.union(
		_on("docker.io/acme/api", "1"),
		{"container": {"entrypoint": ["/usr/local/bin/python3.12"], "command": ["-m", "api"]}},
	)
	interpreter == "node" with input as object.union(
		_on("docker.io/acme/web", "1"),
		{"container": {"entrypoint": ["docker-entrypoint.sh"], "command": ["node", "server.js"]}},
	)
}

test_interpreter_from_scan if {
	interpreter == "python3" with input as object.union(
		_on("docker.io/acme/api", "1"),
		{"image": {"programs": {"python3": {"found": true, "path": "/usr/bin/python3"}}}},
	)
}

test_interpreter_scan_can_veto_catalog if {
	not interpreter with input as object.union(
		_on("dhi.io/node", "25"),
		{"image": {"programs": {"node": {"found": false, "path": ""}}}},
	)
}

# A command behind an entrypoint is only the entrypoint's arguments: a
# decoy `Cmd: ["curl"]` is no evidence that the image has curl, nor a
# decoy `Cmd: ["sh"]` that it has a shell.
test_decoy_command_is_no_evidence if {
	decoy_curl := object.union(_on("dhi.io/node", "25"), {"container": {"entrypoint": ["node"], "command": ["curl"]}})
	program_missing("curl") with input as decoy_curl
	program_source("curl") == "catalog" with input as decoy_curl
	decoy_sh := object.union(_on("dhi.io/node", "25"), {"container": {"entrypoint": ["node"], "command": ["sh"]}})
	no_shell with input as decoy_sh

	# Without an entrypoint the command is the process: it does run.
	runs_curl := object.union(_on("dhi.io/node", "25"), {"container": {"entrypoint": [], "command": ["curl", "-V"]}})
	program_source("curl") == "entrypoint" with input as runs_curl
}

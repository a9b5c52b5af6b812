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
# Catalog matching, on the shipped catalog (policies/catalog): the
# generated facts of the vendors' definitions and the overrides. The lookup
# mechanics on a small catalog are in image_catalog_test.rego.
# ---------------------------------------------------------------------------

test_catalog_dhi_families if {
	# tags the definitions name
	_fam("dhi.io/node", "24-debian13-sfw-ent-dev") == "dhi-node-dev"
	_fam("dhi.io/node", "24-dev") == "dhi-node-dev"
	_fam("dhi.io/node", "24") == "dhi-node"
	_fam("dhi.io/node", "24-alpine3.22-dev") == "dhi-node-dev"
	_fam("dhi.io/python", "3.13") == "dhi-python"
	_fam("dhi.io/curl", "8-debian13-dev") == "dhi-curl-dev"
	_fam("dhi.io/curl", "8") == "dhi-curl"

	# a tag no definition names: the facts common to the dev variants, or
	# to all variants (no variant then)
	_fam("dhi.io/node", "25-dev") == "dhi-node-dev"
	_fam("dhi.io/node", "25") == "dhi-node"
	_fam("dhi.io/busybox", "1") == "dhi-busybox"
}

test_catalog_dhi_mirror_on_docker_hub if {
	_fam("docker.io/acme/dhi-node", "24") == "dhi-node"
	_fam("docker.io/acme/dhi-node", "24-dev") == "dhi-node-dev"
	_fam("docker.io/acme/dhi-curl", "8") == "dhi-curl"
	shell_fact == false with input as _on("docker.io/acme/dhi-node", "24")
}

test_catalog_chainguard if {
	_fam("cgr.dev/chainguard/node", "latest") == "chainguard-node"
	_fam("cgr.dev/chainguard/node", "latest-dev") == "chainguard-node-dev"
	_fam("cgr.dev/chainguard/nginx", "latest") == "chainguard-nginx"
	_fam("cgr.dev/chainguard/curl", "latest") == "chainguard-curl"
	_fam("cgr.dev/chainguard/wolfi-base", "latest") == "chainguard-wolfi-base"
}

test_catalog_chainguard_docker_hub_and_private_org if {
	_fam("docker.io/chainguard/nginx", "latest") == "chainguard-nginx"
	_fam("cgr.dev/acme.com/nginx", "latest-dev") == "chainguard-nginx-dev"
	catalog_repository == "cgr.dev/chainguard/nginx" with input as _on("docker.io/chainguard/nginx", "latest")
	catalog_repository == "cgr.dev/chainguard/nginx" with input as _on("cgr.dev/acme.com/nginx", "latest")
	repository == "cgr.dev/acme.com/nginx" with input as _on("cgr.dev/acme.com/nginx", "latest")
	program_missing("curl") with input as _on("docker.io/chainguard/nginx", "latest")
}

test_catalog_distroless if {
	_fam("gcr.io/distroless/static-debian12", "nonroot") == "distroless"
	_fam("gcr.io/distroless/base-debian12", "debug") == "distroless-debug"
	_fam("gcr.io/distroless/base-debian12", "debug-nonroot") == "distroless-debug"
	_fam("gcr.io/distroless/nodejs22-debian12", "latest") == "distroless-nodejs"
	_fam("gcr.io/distroless/python3-debian12", "debug") == "distroless-python3-debug"
}

test_catalog_dotnet_chiseled if {
	_fam("mcr.microsoft.com/dotnet/aspnet", "8.0-noble-chiseled") == "dotnet-chiseled"
	_fam("mcr.microsoft.com/dotnet/runtime", "8.0-jammy-chiseled-extra") == "dotnet-chiseled"
	no_shell with input as _on("mcr.microsoft.com/dotnet/aspnet", "8.0-noble-chiseled")
	program_missing("curl") with input as _on("mcr.microsoft.com/dotnet/aspnet", "8.0-noble-chiseled")
	_fam("mcr.microsoft.com/dotnet/aspnet", "8.0") == ""
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
	_fam("docker.io/chainguard/a/nginx", "latest") == ""
	_fam("cgr.dev/a/b/nginx", "latest") == ""
}

test_catalog_digest_only_gets_the_facts_of_every_variant if {
	# dhi.io/node@sha256:...: no variant, but no variant has curl
	e := catalog_entry("dhi.io/node", "")
	not e.variant
	e.programs.curl == false
	e.programs.node == true
	not e.shell

	# no variant of cgr.dev/chainguard/nginx has curl
	catalog_entry("cgr.dev/chainguard/nginx", "").programs.curl == false
	program_missing("curl") with input as _on("cgr.dev/chainguard/nginx", "")
}

test_catalog_mirror_keeps_input_repository if {
	_fam("docker.io/acme/dhi-curl", "8-dev") == "dhi-curl-dev"
	_fam("docker.io/acme/dhi-busybox", "") == "dhi-busybox"
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
	canonical_repository("docker.io/chainguard/node") == "cgr.dev/chainguard/node"
	canonical_repository("cgr.dev/acme/node") == "cgr.dev/chainguard/node"
	canonical_repository("cgr.dev/chainguard/node") == "cgr.dev/chainguard/node"
	canonical_repository("ghcr.io/chainguard/node") == "ghcr.io/chainguard/node"
}

test_catalog_entry if {
	catalog_entry("dhi.io/curl", "8-dev").family == "dhi-curl-dev"
	catalog_entry("dhi.io/curl", "8").family == "dhi-curl"
	catalog_entry("docker.io/acme/dhi-curl", "8").family == "dhi-curl"
	catalog_entry("gcr.io/distroless/python3-debian12", "nonroot").family == "distroless-python3"
	not catalog_entry("docker.io/library/nginx", "latest")

	# the configuration the definitions give, for the process rules
	catalog_entry("dhi.io/curl", "8").entrypoint == ["curl"]
	catalog_entry("dhi.io/curl", "8").cmd == ["--help"]
	catalog_entry("cgr.dev/chainguard/nginx", "latest").entrypoint == ["/usr/sbin/nginx"]
	catalog_entry("dhi.io/node", "24").entrypoint == []
	catalog_entry("dhi.io/node", "24").cmd == ["node"]
}

test_catalog_override_wins_over_generated if {
	# generated: bash, no dash; /bin/sh unknown. The override says a shell.
	e := catalog_entry("dhi.io/curl", "8-debian13-dev")
	e.shell == true
	e.programs.sh == true
	e.programs.curl == true
	e.programs.sleep == true
	e.entrypoint == ["curl"]
	e.source == "dhi"
	not e.basis
	catalog_lookup.match.override.layer == "overrides" with input as _on("dhi.io/curl", "8-debian13-dev")
	catalog_lookup.match.how == "tag" with input as _on("dhi.io/curl", "8-debian13-dev")
}

_how(repo, tg) := h if {
	l := catalog_lookup with input as _on(repo, tg)
	h := l.match.how
}

test_catalog_lookup_says_how if {
	l := catalog_lookup with input as _on("dhi.io/node", "24")
	l.match == {"key": "dhi.io/node", "how": "tag", "tag": "24"}
	l.source.repository == "https://github.com/docker-hardened-images/catalog"
	count(l.source.commit) == 40
	_how("dhi.io/node", "99-dev") == "dev"
	_how("dhi.io/node", "99") == "all"
	_how("dhi.io/node", "") == "all"
	not catalog_lookup with input as _on("docker.io/library/nginx", "latest")
}

test_sidecar_image if {
	sidecar_image == "dhi.io/curl:8-debian13-dev"
	sidecar_image == "registry.local/curl:8-dev" with data.catalog.sidecar_image as "registry.local/curl:8-dev"
	sidecar_image == "registry.local/curl:9-dev" with data.catalog.local.sidecar_image as "registry.local/curl:9-dev"
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
	no_shell with input as _on("dhi.io/node", "24")
	not has_shell with input as _on("dhi.io/node", "24")

	# bash but no dash: /bin/sh is unknown, so assumed present
	has_shell with input as _on("dhi.io/node", "24-dev")
	not shell_fact with input as _on("dhi.io/node", "24-dev")
	no_shell with input as _on("dhi.io/curl", "8")
	has_shell with input as _on("dhi.io/curl", "8-debian13-dev")

	# Chainguard's node ships busybox even in its runtime variant
	shell_fact == true with input as _on("cgr.dev/chainguard/node", "latest")
	no_shell with input as _on("cgr.dev/chainguard/nginx", "latest")
	shell_fact == true with input as _on("cgr.dev/chainguard/nginx", "latest-dev")
	no_shell with input as _on("gcr.io/distroless/static-debian12", "latest")
	no_shell with input as _on("gcr.io/distroless/base-debian12", "debug")
	shell_source == "catalog" with input as _on("dhi.io/node", "24")
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
	# Overrides the catalog and covers unknown images.
	no_shell with input as _labelled("dhi.io/node", "24-dev", {"com.docker.dhi.shell": ""})
	no_shell with input as _labelled("docker.io/acme/app", "1", {"com.docker.dhi.shell": ""})
	shell_source == "label" with input as _labelled("docker.io/acme/app", "1", {"com.docker.dhi.shell": ""})
}

test_shell_label_non_empty_means_shell if {
	has_shell with input as _labelled("dhi.io/node", "24", {"com.docker.dhi.shell": "/bin/bash"})
	shell_fact == true with input as _labelled("dhi.io/node", "24", {"com.docker.dhi.shell": "bash"})
}

test_shell_found_wins_over_label_and_catalog if {
	inp := object.union(
		_labelled("dhi.io/node", "24-dev", {"com.docker.dhi.shell": "/bin/bash"}),
		{"image": {"shell_found": false}},
	)
	no_shell with input as inp
	shell_source == "index" with input as inp
	has_shell with input as object.union(_on("dhi.io/node", "24"), {"image": {"shell_found": true}})
}

test_shell_from_entrypoint_script if {
	inp := object.union(_on("dhi.io/postgres", "17"), {"container": {"entrypoint": ["docker-entrypoint.sh"], "command": ["postgres"]}})
	has_shell with input as inp
	shell_source == "entrypoint" with input as inp
	has_shell with input as object.union(_on("dhi.io/postgres", "17"), {"container": {"entrypoint": ["/bin/bash", "-c", "x"]}})
	no_shell with input as object.union(_on("dhi.io/node", "24"), {"container": {"entrypoint": ["node"], "command": ["server.js"]}})
}

# ---------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------

test_program_curl_missing_from_dhi_node if {
	program_missing("curl") with input as _on("dhi.io/node", "24-debian13-sfw-ent-dev")
	program_missing("curl") with input as _on("dhi.io/node", "25-debian13-sfw-ent-dev")
	program_missing("curl") with input as _on("dhi.io/node", "24")
	program_missing("wget") with input as _on("dhi.io/node", "24-dev")
	program_fact("curl") == false with input as _on("dhi.io/node", "24")
	program_source("curl") == "catalog" with input as _on("dhi.io/node", "24")
}

test_program_absolute_path_uses_basename if {
	program_missing("/usr/bin/curl") with input as _on("dhi.io/node", "24-dev")
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
	has_program("sleep") with input as _on("dhi.io/node", "24-dev")
	program_missing("sleep") with input as _on("dhi.io/node", "24")
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
	has_program("wget") with input as _on("dhi.io/node", "24-alpine3.22-dev")
	program_missing("curl") with input as _on("dhi.io/node", "24-alpine3.22-dev")
}

test_program_shells_follow_shell_fact if {
	program_missing("sh") with input as _on("dhi.io/node", "24")
	program_missing("/bin/bash") with input as _on("dhi.io/node", "24")
	has_program("bash") with input as _on("dhi.io/node", "24-dev")
	program_missing("bash") with input as _on("dhi.io/node", "24-alpine3.22-dev")
	program_source("sh") == "shell" with input as _on("dhi.io/node", "24")
	has_program("sh") with input as _labelled("dhi.io/node", "24", {"com.docker.dhi.shell": "/bin/sh"})
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
	found := object.union(_on("dhi.io/node", "24"), {"image": {"programs": {"curl": {"found": true, "path": "/usr/local/bin/curl"}}}})
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
	shell == {"value": false, "source": "catalog"} with input as _on("dhi.io/node", "24")
	shell == {"value": false, "source": "label"} with input as _labelled("dhi.io/node", "24-dev", {"com.docker.dhi.shell": ""})
	shell == {"source": "unknown"} with input as _on("docker.io/library/nginx", "latest")
	program("curl") == {"value": false, "source": "catalog"} with input as _on("dhi.io/node", "24")
	program("pg_isready") == {"source": "unknown"} with input as _on("dhi.io/postgres", "17")
	program("/bin/sh") == {"value": false, "source": "shell"} with input as _on("dhi.io/node", "24")

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
	interpreter == "node" with input as _on("dhi.io/node", "24")
	interpreter == "python3" with input as _on("dhi.io/python", "3.13-debian13-dev")
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
		_on("dhi.io/node", "24"),
		{"image": {"programs": {"node": {"found": false, "path": ""}}}},
	)
}

# A command behind an entrypoint is only the entrypoint's arguments: a
# decoy `Cmd: ["curl"]` is no evidence that the image has curl, nor a
# decoy `Cmd: ["sh"]` that it has a shell.
test_decoy_command_is_no_evidence if {
	decoy_curl := object.union(_on("dhi.io/node", "24"), {"container": {"entrypoint": ["node"], "command": ["curl"]}})
	program_missing("curl") with input as decoy_curl
	program_source("curl") == "catalog" with input as decoy_curl
	decoy_sh := object.union(_on("dhi.io/node", "24"), {"container": {"entrypoint": ["node"], "command": ["sh"]}})
	no_shell with input as decoy_sh

	# Without an entrypoint the command is the process: it does run.
	runs_curl := object.union(_on("dhi.io/node", "24"), {"container": {"entrypoint": [], "command": ["curl", "-V"]}})
	program_source("curl") == "entrypoint" with input as runs_curl
}

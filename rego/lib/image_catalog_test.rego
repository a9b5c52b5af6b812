package hardened.lib.image

import data.hardened.test.fixtures as fx

# The lookup on a small catalog of each kind: generated repositories
# (tags to fact indexes, dev and all) and hand-written layers.

_t(repo, tg) := fx.with_image(fx.compose_create, fx.image(repo, tg))

_cat := {
	"sources": {"v": {"name": "Vendor", "repository": "https://github.com/v/defs", "commit": "0123456789012345678901234567890123456789"}},
	"facts": [
		{"variant": "runtime", "shell": false, "has": "app", "lacks": "bash curl wget", "entrypoint": ["/app"], "cmd": []},
		{"variant": "dev", "shell": true, "has": "app bash busybox", "lacks": "curl", "entrypoint": ["/app"], "cmd": []},
		{"variant": "dev", "has": "app bash", "lacks": "curl", "entrypoint": ["/app"], "cmd": []},
		{"has": "app", "lacks": "curl", "entrypoint": ["/app"], "cmd": []},
	],
	"repositories": {
		"dhi.io/app": {"source": "v", "family": "v-app", "tags": {"1": 0, "1-dev": 1, "1-alpine-dev": 2}, "dev": 2, "all": 3},
		"cgr.dev/chainguard/app": {"source": "v", "family": "cg-app", "tags": {"latest": 0, "latest-dev": 1}, "dev": 1, "all": 3},
	},
}

_f(repo, tg) := e if {
	e := entry with input as _t(repo, tg) with data.catalog as _cat
}

test_generated_exact_tag if {
	e := _f("dhi.io/app", "1")
	e.variant == "runtime"
	e.family == "v-app"
	e.source == "v"
	e.hardened == true
	e.shell == false
	e.programs == {"app": true, "bash": false, "curl": false, "wget": false}
	e.entrypoint == ["/app"]
	e.cmd == []
	not e.has
	not e.lacks
	no_shell with input as _t("dhi.io/app", "1") with data.catalog as _cat
	program_missing("curl") with input as _t("dhi.io/app", "1") with data.catalog as _cat
	shell_source == "catalog" with input as _t("dhi.io/app", "1") with data.catalog as _cat
}

test_generated_dev_tag if {
	e := _f("dhi.io/app", "1-dev")
	e.family == "v-app-dev"
	e.shell == true
	e.programs.busybox == true
}

test_generated_unknown_dev_tag_gets_the_dev_meet if {
	e := _f("dhi.io/app", "2-dev")
	e.family == "v-app-dev"
	not e.shell
	e.programs == {"app": true, "bash": true, "curl": false}
	has_shell with input as _t("dhi.io/app", "2-dev") with data.catalog as _cat
}

test_generated_unknown_tag_gets_the_meet_of_all if {
	e := _f("dhi.io/app", "2")
	e.family == "v-app"
	not e.variant
	not e.shell
	e.programs == {"app": true, "curl": false}
	program_missing("curl") with input as _t("dhi.io/app", "2") with data.catalog as _cat
	has_program("wget") with input as _t("dhi.io/app", "2") with data.catalog as _cat
}

test_generated_digest_only_gets_the_meet_of_all if {
	_f("dhi.io/app", "") == _f("dhi.io/app", "2")
	program_missing("curl") with input as _t("dhi.io/app", "") with data.catalog as _cat
}

test_generated_docker_hub_names if {
	_f("docker.io/acme/dhi-app", "1").family == "v-app"
	_f("docker.io/chainguard/app", "latest").family == "cg-app"
	_f("cgr.dev/acme.example/app", "latest-dev").family == "cg-app-dev"
	_f("cgr.dev/acme.example/app", "").programs.curl == false
	not _f("docker.io/acme/app", "latest")
	not _f("ghcr.io/chainguard/app", "latest")
}

test_override_wins_fact_by_fact if {
	cat := object.union(_cat, {"overrides": {"images": {"dhi.io/app": [
		{"family": "app-dev-override", "tag": "*-dev", "shell": false, "programs": {"curl": true}, "basis": "x"},
	]}}})
	e := entry with input as _t("dhi.io/app", "1-dev") with data.catalog as cat
	e.shell == false
	e.family == "app-dev-override"
	e.programs == {"app": true, "bash": true, "busybox": true, "curl": true}
	e.entrypoint == ["/app"]
	not e.basis
	not e.tag

	# runtime tags: no override matches, the generated facts stand
	r := entry with input as _t("dhi.io/app", "1") with data.catalog as cat
	r.family == "v-app"

	m := catalog_lookup with input as _t("dhi.io/app", "1-dev") with data.catalog as cat
	m.match.override == {"layer": "overrides", "key": "dhi.io/app", "tag": "*-dev", "family": "app-dev-override", "basis": "x"}
	m.match.how == "tag"
	m.source.commit == "0123456789012345678901234567890123456789"
}

test_local_layer_wins_over_overrides if {
	cat := object.union(_cat, {
		"overrides": {"images": {"dhi.io/*": [{"family": "shipped", "shell": false}]}},
		"local": {"images": {"dhi.io/app": [{"family": "mine", "shell": true}]}},
	})
	e := entry with input as _t("dhi.io/app", "1") with data.catalog as cat
	e.family == "mine"
	e.shell == true
	e.programs.curl == false
	f := entry with input as _t("dhi.io/other", "1") with data.catalog as cat
	f.family == "shipped"
}

test_override_only_image if {
	cat := {"overrides": {"images": {"registry.local/base/*": [{"family": "base", "shell": false, "programs": {"curl": false}}]}}}
	e := entry with input as _t("registry.local/base/app", "1.2") with data.catalog as cat
	e.family == "base"
	no_shell with input as _t("registry.local/base/app", "1.2") with data.catalog as cat
	not entry with input as _t("registry.local/other/app", "1.2") with data.catalog as cat
}

# Hand-written layers keep the ordered, glob-tagged lists: the first entry
# whose tag matches in the exact key, then the prefix keys, longest first.

test_layer_first_tag_match_wins_within_a_key if {
	cat := {"images": {"dhi.io/node": [
		{"family": "first", "tag": "*", "shell": true},
		{"family": "second", "tag": "*", "shell": false},
	]}}
	_fam("dhi.io/node", "25") == "first" with data.catalog as cat
	shell_fact with input as _on("dhi.io/node", "25") with data.catalog as cat
}

test_layer_exact_key_before_prefix_key if {
	cat := {"overrides": {"images": {
		"dhi.io/*": [{"family": "generic", "tag": "*"}],
		"dhi.io/node": [{"family": "node", "tag": "*"}],
	}}}
	_fam("dhi.io/node", "25") == "node" with data.catalog as cat
	_fam("dhi.io/redis", "8") == "generic" with data.catalog as cat
}

test_layer_exact_key_falls_through_to_prefix_key if {
	cat := {"overrides": {"images": {
		"dhi.io/*": [{"family": "generic-dev", "tag": "*-dev"}, {"family": "generic"}],
		"dhi.io/node": [{"family": "node-22", "tag": "22*"}],
	}}}
	_fam("dhi.io/node", "22-dev") == "node-22" with data.catalog as cat
	_fam("dhi.io/node", "25-dev") == "generic-dev" with data.catalog as cat
	_fam("dhi.io/node", "25") == "generic" with data.catalog as cat
	_fam("dhi.io/node", "") == "generic" with data.catalog as cat
}

test_layer_longest_prefix_key_wins if {
	cat := {"overrides": {"images": {
		"gcr.io/distroless/*": [{"family": "short"}],
		"gcr.io/distroless/nodejs*": [{"family": "long", "tag": "*"}],
	}}}
	_keys("gcr.io/distroless/nodejs22-debian12") == ["gcr.io/distroless/nodejs*", "gcr.io/distroless/*"] with data.catalog as cat
	_fam("gcr.io/distroless/nodejs22-debian12", "latest") == "long" with data.catalog as cat
	_fam("gcr.io/distroless/nodejs", "latest") == "long" with data.catalog as cat

	# the longer key has no entry for an unknown tag: the shorter one decides
	_fam("gcr.io/distroless/nodejs22-debian12", "") == "short" with data.catalog as cat
	_fam("gcr.io/distroless/static-debian12", "latest") == "short" with data.catalog as cat
}

test_layer_prefix_key_star_does_not_cross_slash if {
	_keys("gcr.io/distroless/nodejs/x") == []
	_keys("dhi.io/acme/node") == []
	_keys("gcr.io/distroless/nodejs22-debian12") == ["gcr.io/distroless/nodejs*", "gcr.io/distroless/*"]
	_fam("gcr.io/distroless/nodejs/x", "latest") == ""
	_fam("cgr.dev/chainguard/node/x", "latest") == ""
	_fam("cgr.dev/chainguard", "latest") == ""
}

test_layer_list_format_is_ignored if {
	# the first format (an ordered array) is not read: the image is unknown
	cat := {"images": [{"family": "old", "repositories": ["dhi.io/*"]}]}
	not entry with input as _on("dhi.io/node", "25") with data.catalog as cat
	not catalog_entry("dhi.io/node", "25") with data.catalog as cat
}

test_catalog_missing_means_unknown if {
	inp := _on("dhi.io/node", "24")
	not entry with input as inp with data.catalog as {}
	has_shell with input as inp with data.catalog as {}
	not program_missing("curl") with input as inp with data.catalog as {}
}

# The entry the plugin works out once per repository and tag
# (input.image.catalog) is used as given: {} means no entry even for a
# repository the catalog has, and a given entry wins over the derivation.
_given(repo, tg, catalog) := fx.with_image(fx.compose_create, object.union(fx.image(repo, tg), {"catalog": catalog}))

test_given_entry_is_used if {
	e := entry with input as _given("dhi.io/app", "1", {"entry": {"family": "given", "shell": true}}) with data.catalog as _cat
	e == {"family": "given", "shell": true}
	shell_fact with input as _given("dhi.io/app", "1", {"entry": {"family": "given", "shell": true}}) with data.catalog as _cat
}

test_given_no_entry_is_undefined if {
	not entry with input as _given("dhi.io/app", "1", {}) with data.catalog as _cat
	derived_entry.family == "v-app" with input as _given("dhi.io/app", "1", {}) with data.catalog as _cat
}

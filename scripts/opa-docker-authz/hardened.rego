# The policy a user of opa-docker-authz would write by hand for the job
# hardened-authz does: refuse, by image name, healthchecks that cannot run
# in a hardened image (a shell-form check on a runtime tag, which has no
# shell; a curl or wget check on any tag, which has neither). It is the
# incumbent's side of scripts/compare-opa-docker-authz.sh, which measures
# both plugins on the same create requests; it is not part of
# hardened-authz's own policies.
package docker.authz

default allow := false

allow if not deny

hardened_prefixes := ["dhi.io/", "cgr.dev/", "gcr.io/distroless/"]

create if glob.match("/**/containers/create", ["/"], input.PathPlain)

image := object.get(input, ["Body", "Image"], "")

hardened if strings.any_prefix_match(image, hardened_prefixes)

# The -dev (and distroless :debug) variants ship a shell.
runtime_tag if {
	not contains(image, "-dev")
	not contains(image, ":debug")
}

test := object.get(input, ["Body", "Healthcheck", "Test"], [])

deny if {
	create
	hardened
	runtime_tag
	test[0] == "CMD-SHELL"
}

deny if {
	create
	hardened
	not startswith(image, "dhi.io/curl:")
	test[0] == "CMD"
	regex.match(`(^|/)(curl|wget)$`, test[1])
}

# The two rules a conftest user would write by hand for the job `authz
# check` does, on compose files as conftest reads them (the YAML as it is):
# a shell-form healthcheck on a hardened runtime image, which has no shell,
# and a curl or wget healthcheck on a hardened image, which has neither.
# It is conftest's side of scripts/compare-conftest.sh, not part of
# hardened-authz's own policies.
package main

hardened_prefixes := ["dhi.io/", "cgr.dev/", "gcr.io/distroless/"]

hardened(image) if strings.any_prefix_match(image, hardened_prefixes)

runtime_tag(image) if {
	not contains(image, "-dev")
	not contains(image, ":debug")
}

shell_form(test) if is_string(test)

shell_form(test) if test[0] == "CMD-SHELL"

deny contains msg if {
	some name, svc in input.services
	hardened(svc.image)
	runtime_tag(svc.image)
	shell_form(svc.healthcheck.test)
	msg := sprintf("service %s: a shell-form healthcheck on %s, which has no shell", [name, svc.image])
}

deny contains msg if {
	some name, svc in input.services
	hardened(svc.image)
	not startswith(svc.image, "dhi.io/curl:")
	svc.healthcheck.test[0] == "CMD"
	regex.match(`(^|/)(curl|wget)$`, svc.healthcheck.test[1])
	msg := sprintf("service %s: a %s healthcheck on %s, which has no %s", [name, svc.healthcheck.test[1], svc.image, svc.healthcheck.test[1]])
}

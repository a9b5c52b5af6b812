package hardened.rules.acme_registry

import data.hardened.lib.request
import data.hardened.lib.violation

# METADATA
# title: Images must come from the internal registry
# custom:
#   id: ACME001
#   severity: error
deny contains violation.new(rego.metadata.rule(), msg, fix) if {
	request.is_container_create
	not startswith(input.image.repository, "registry.acme.example/")
	msg := sprintf("%s uses %s, which is not from registry.acme.example", [request.subject, request.image_ref])
	fix := {"summary": "Push the image to registry.acme.example and use that name."}
}

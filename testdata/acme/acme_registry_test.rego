package hardened.rules.acme_registry

import data.hardened.test.fixtures as fx

test_denies_public_images if {
	some v in deny with input as fx.create({"image": fx.image("docker.io/library/nginx", "1")})
	v.rule == "ACME001"
	startswith(v.message, `ACME001: service "app" uses nginx:1`)
}

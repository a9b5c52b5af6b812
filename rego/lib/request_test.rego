package hardened.lib.request

import data.hardened.test.fixtures as fx

test_is_container_create if {
	is_container_create with input as fx.compose_create
	not is_container_create with input as fx.plugin("plugin.disable", "x")
	not is_container_create with input as {}
}

test_is_plugin_change if {
	is_plugin_change with input as fx.plugin("plugin.disable", "x")
	is_plugin_change with input as fx.plugin("plugin.remove", "x")
	is_plugin_change with input as fx.plugin("plugin.set", "x")
	is_plugin_change with input as fx.plugin("plugin.upgrade", "x")
	not is_plugin_change with input as fx.plugin("plugin.enable", "x")
	not is_plugin_change with input as fx.plugin("plugin.push", "x")
	not is_plugin_change with input as fx.compose_create
}

test_subject_compose_service if {
	subject == `service "app"` with input as fx.compose_create
	compose_service == "app" with input as fx.compose_create
	is_compose with input as fx.compose_create
}

test_subject_named_container if {
	subject == `container "web"` with input as fx.run_create
	not is_compose with input as fx.run_create
	container_name == "web" with input as fx.run_create
}

test_subject_unnamed_container if {
	subject == "container (unnamed)" with input as fx.run({"container": {"name": ""}})
	subject == "container (unnamed)" with input as {"action": "container.create"}
	container_name == "" with input as {}
}

test_subject_empty_compose_service_is_not_compose if {
	inp := fx.run({"container": {"compose": {"project": "p", "service": ""}}})
	not is_compose with input as inp
	subject == `container "web"` with input as inp
}

test_healthcheck_accessors if {
	healthcheck_form == "cmd" with input as fx.compose_create
	probe_url == fx.url with input as fx.compose_create
	not healthcheck_inherited with input as fx.compose_create
	healthcheck_inherited with input as fx.create({"container": {"healthcheck": {"inherited": true}}})
}

test_healthcheck_defaults_when_missing if {
	healthcheck_form == "absent" with input as {"action": "container.create"}
	healthcheck == {} with input as {}
	probe_url == "" with input as {}
}

test_image_ref if {
	image_ref == "dhi.io/node:25-debian13-sfw-ent-dev" with input as fx.compose_create
	image_ref == "web:1" with input as {"container": {"image": "web:1"}}
	image_ref == "(unknown image)" with input as {}
}

test_argv0s if {
	argv0s == ["tini", "node"] with input as fx.create({"container": {"entrypoint": ["tini", "--"], "command": ["node", "server.js"]}})
	argv0s == ["python3"] with input as fx.create({"container": {"entrypoint": [], "command": ["python3", "app.py"]}})
	argv0s == [] with input as fx.compose_create
	argv0s == [] with input as {}
	entrypoint == [] with input as {"container": {"entrypoint": null}}
}

test_argv0_is_the_process_itself if {
	argv0 == "tini" with input as fx.create({"container": {"entrypoint": ["tini", "--"], "command": ["node", "server.js"]}})
	argv0 == "python3" with input as fx.create({"container": {"entrypoint": [], "command": ["python3", "app.py"]}})
	argv0 == "/app" with input as fx.create({"container": {"entrypoint": ["/app"], "command": ["curl"]}})
	not argv0 with input as {}
}

test_a_start_is_decided_as_its_create if {
	is_container_create with input as {"action": "container.start"}
	is_container_create with input as {"action": "container.create"}
	not is_container_create with input as {"action": "other"}
}

test_service_requests_are_container_creates if {
	is_container_create with input as {"action": "service.create"}
	is_container_create with input as {"action": "service.update"}
	is_swarm_service with input as {"action": "service.update"}
	not is_swarm_service with input as {"action": "container.create"}
}

test_subject_swarm_service if {
	subject == `service "shop_app"` with input as {"action": "service.create", "service": {"name": "shop_app", "stack": "shop"}}
	subject == `service "web"` with input as {"action": "service.update", "service": {"name": "web", "stack": ""}, "container": {"name": "web"}}
	subject == "service (unnamed)" with input as {"action": "service.create", "service": {"name": "", "stack": ""}}
	not swarm_service with input as {"action": "container.create", "service": {"name": "x", "stack": ""}}
}

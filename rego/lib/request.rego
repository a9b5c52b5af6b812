# METADATA
# title: Input helpers
# description: |
#   Accessors for the normalized input document (docs/input.md) that every
#   rule shares: what kind of request this is, who it is about (the compose
#   service or the container) and the effective healthcheck. Every accessor
#   tolerates missing fields, so rules never fail on a partial input.
package hardened.lib.request

# The actions that take a managed plugin out of dockerd's authorization chain
# (or replace it).
plugin_change_actions := {"plugin.disable", "plugin.remove", "plugin.set", "plugin.upgrade"}

# A container create; or its start, which the plugin decides as the create
# dockerd stored (container inspect: the merged config, the exact image ID),
# so that whatever changed since the create, and containers created while
# the plugin was off, are checked before they run. Rules for both read
# input.container; input.action tells them apart.
#
# A swarm service create or update too: its task containers are created
# inside the daemon and never pass the plugin, so the service is decided,
# on the manager, as the create each of its tasks will be (input.service
# names it; input.container is its TaskTemplate.ContainerSpec).
is_container_create if input.action in {"container.create", "container.start", "service.create", "service.update"}

# A swarm service create or update (docker service, docker stack deploy).
is_swarm_service if input.action in {"service.create", "service.update"}

# The swarm service's name as given ("shop_app" for service app of stack
# shop); undefined unless this is a service request that names one.
swarm_service := s if {
	is_swarm_service
	s := input.service.name
	is_string(s)
	s != ""
}

is_plugin_change if input.action in plugin_change_actions

# The effective healthcheck ({} when the input has none).
healthcheck := object.get(input, ["container", "healthcheck"], {})

# "cmd" | "shell" | "none" | "absent" | "invalid" (a test dockerd cannot run; see healthcheck.problem).
healthcheck_form := object.get(healthcheck, "form", "absent")

# True when the effective healthcheck comes from the image's HEALTHCHECK.
healthcheck_inherited if healthcheck.inherited == true

# The first http(s) URL of the healthcheck, "" when none.
probe_url := object.get(healthcheck, "probe_url", "")

# The compose service name; undefined unless the container carries the
# com.docker.compose.project/service labels.
compose_service := s if {
	s := input.container.compose.service
	is_string(s)
	s != ""
}

is_compose if compose_service

# The container name from ?name=, "" when none was given.
container_name := object.get(input, ["container", "name"], "")

# Who a message is about: `service "shop_app"` (a swarm service),
# `service "app"` (a compose service), `container "web"` or
# `container (unnamed)`.
subject := s if {
	s := sprintf("service %q", [swarm_service])
} else := "service (unnamed)" if {
	is_swarm_service
} else := s if {
	s := sprintf("service %q", [compose_service])
} else := s if {
	container_name != ""
	s := sprintf("container %q", [container_name])
} else := "container (unnamed)"

# The image as the user wrote it.
image_ref := r if {
	r := input.image.ref
	is_string(r)
	r != ""
} else := r if {
	r := input.container.image
	is_string(r)
	r != ""
} else := "(unknown image)"

# The effective entrypoint and command ([] when none).
entrypoint := e if {
	e := input.container.entrypoint
	is_array(e)
} else := []

command := c if {
	c := input.container.command
	is_array(c)
} else := []

# The program the container's process really is: argv[0] of the effective
# entrypoint, else of the command (with an entrypoint, the command is only
# its arguments). Undefined when the container names none.
argv0 := a if {
	a := entrypoint[0]
	is_string(a)
	a != ""
} else := a if {
	count(entrypoint) == 0
	a := command[0]
	is_string(a)
	a != ""
}

# The first words of the entrypoint and of the command: argv0, and the
# program a wrapper entrypoint (tini, docker-entrypoint.sh) likely runs.
# A hint for fixes (which interpreter to suggest), never evidence that a
# program exists: a decoy command proves nothing.
argv0s := [a |
	some argv in [entrypoint, command]
	a := argv[0]
	is_string(a)
	a != ""
]

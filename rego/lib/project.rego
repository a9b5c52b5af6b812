# METADATA
# title: Compose project facts
# description: |
#   What a rule needs to look across the services of a compose project:
#   input.project (only `authz check` has it; a dockerd create request
#   carries one container) and input.container.compose.depends_on.
#
#   A healthcheck "runs" when the service has one (exec or shell form, its
#   own or its image's) that can run in its image
#   (hardened.lib.healthcheck, the facts HA001 and HA002 report) for that
#   service's document. It can pass only if, besides, the service's main
#   process stays up (hardened.lib.process, the fact HA011 reports): a
#   container that exits at once never runs its healthcheck.
package hardened.lib.project

import data.hardened.lib.healthcheck
import data.hardened.lib.image
import data.hardened.lib.process

# services: service name -> that service's input document.
services := s if {
	s := input.project.services
	is_object(s)
} else := {}

in_project if input.project

# depends_on: this service's depends_on entries, name -> {condition, required}.
depends_on := d if {
	d := input.container.compose.depends_on
	is_object(d)
} else := {}

# waits_healthy contains every service this one waits for with
# condition: service_healthy.
waits_healthy contains name if {
	some name, dep in depends_on
	dep.condition == "service_healthy"
}

# healthcheck_runs(doc): doc's service has a healthcheck that can run.
healthcheck_runs(doc) if {
	doc.container.healthcheck.form in {"cmd", "shell"}
	not healthcheck.cannot_run with input as doc
}

# exits_at_once(doc): doc's main process exits as soon as it starts.
exits_at_once(doc) if process.exits_at_once with input as doc

# healthcheck_passes(doc): doc has a healthcheck that runs, in a container
# that stays up long enough to run it.
healthcheck_passes(doc) if {
	healthcheck_runs(doc)
	not exits_at_once(doc)
}

# healthcheck_state(doc): why a service's healthcheck does or does not run:
# "none" (it has none), "disabled", "broken" (it cannot run in its image:
# HA001 or HA002 reports it), "exits" (it could run, but the service's main
# process exits at once: HA011 reports it), "runs", or "unknown": it sets
# none, and its image is neither inspected nor a catalog image, so the
# image may bring its own HEALTHCHECK.
healthcheck_state(doc) := "unknown" if {
	_form(doc) == "absent"
	not _image_known(doc)
} else := "none" if {
	_form(doc) == "absent"
} else := "disabled" if {
	doc.container.healthcheck.form == "none"
} else := "exits" if {
	healthcheck_runs(doc)
	exits_at_once(doc)
} else := "runs" if {
	healthcheck_runs(doc)
} else := "broken"

# sidecars_of(name): the services that share name's network namespace
# (network_mode: "service:<name>") and have a healthcheck that can pass:
# they can stand in for name's own healthcheck.
sidecars_of(name) := {s |
	some s in _joined_by(name)
	healthcheck_passes(services[s])
}

# dependents_by_condition(name): the services whose depends_on names name,
# with the condition each waits for (service_started when none is given).
dependents_by_condition(name) := object.get(_index, [name, "dependents"], {}) if {
	_indexed
} else := {s: c |
	some s, doc in services
	dep := object.get(doc, ["container", "compose", "depends_on", name], null)
	dep != null
	c := object.get(dep, "condition", "service_started")
}

# dependents_of(name): the services whose depends_on names name, with any
# condition.
dependents_of(name) := object.keys(dependents_by_condition(name)) if {
	_indexed
} else := {s |
	some s, doc in services
	object.get(doc, ["container", "compose", "depends_on", name], null) != null
}

# _index: input.project.index, the reverse relations `authz check` computes
# once per project, so that asking them of every service is not a scan of
# the project per service. Documents written without it (Rego tests, other
# callers) get the same answers by scanning.
_index := i if {
	i := input.project.index
	is_object(i)
}

_indexed if _index

# _joined_by(name): the services in container network mode whose target
# is name.
_joined_by(name) := {s | some s in object.get(_index, [name, "joined_by"], [])} if {
	_indexed
} else := {s |
	some s, doc in services
	doc.container.network.mode == "container"
	doc.container.network.target == name
}

# sidecar_for(name): the name of the sidecar service that probes name: one
# that runs, else the conventional <name>-health when the project has it.
sidecar_for(name) := s if {
	s := min(sidecars_of(name))
} else := s if {
	s := sprintf("%s-health", [name])
	services[s]
}

_form(doc) := object.get(doc, ["container", "healthcheck", "form"], "absent")

# The daemon's image config was merged in: an absent healthcheck is absent.
_image_known(doc) if doc.image.source != "catalog"

# Hardened images of the catalog ship no HEALTHCHECK.
_image_known(doc) if image.is_hardened with input as doc

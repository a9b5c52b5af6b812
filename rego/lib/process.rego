# METADATA
# title: The container's main process
# description: |
#   What the container's main process really runs, and whether it exits
#   at once: a healthcheck only runs while that process does, so a
#   container whose process prints its help and exits never turns healthy.
#
#   The effective argv is dockerd's merge of the request's entrypoint and
#   command with the image's. When the image was inspected (input.image
#   source "index" or "daemon"), the Go side has merged them already
#   (input.container.entrypoint and command). When it was not (source
#   "catalog": `authz check --no-daemon`, or an image dockerd could not
#   show in time), the merge is done here with the catalog entry's
#   `entrypoint` and `cmd`, as dockerd does: a request entrypoint drops
#   the image's command; without one, the image's entrypoint stays and the
#   request's command, else the image's, follows it. A part the catalog
#   does not know leaves the argv unknown (undefined), and nothing is
#   claimed about it.
package hardened.lib.process

import data.hardened.lib.image
import data.hardened.lib.request
import data.hardened.lib.text

# Programs that make one request and exit: as a container's main process
# they end the container at once, however they are called.
one_shot_programs := {"curl", "wget", "wget2"}

# Arguments that make any program print something and exit, when they are
# its only argument.
info_flags := {"--help", "-h", "--version", "-V"}

# The image's own configuration was merged into the request's by the Go
# side (input.container holds the effective entrypoint and command).
merged if input.image.source in {"index", "daemon"}

# The effective argv (entrypoint + command); undefined when unknown.
argv := a if {
	merged
	a := array.concat(request.entrypoint, request.command)
	count(a) > 0
} else := a if {
	not merged
	count(request.entrypoint) > 0
	a := array.concat(request.entrypoint, request.command)
} else := a if {
	not merged
	ep := image.entry.entrypoint
	is_array(ep)
	a := array.concat(ep, _catalog_command)
	count(a) > 0
}

# Without a request entrypoint: the request's command, else the image's.
_catalog_command := request.command if {
	count(request.command) > 0
} else := c if {
	c := image.entry.cmd
	is_array(c)
}

# Where argv came from: "request" (the request, merged with the inspected
# image's configuration), or "catalog" (merged here with the catalog's).
argv_source := "catalog" if {
	not merged
	count(request.entrypoint) == 0
	argv
} else := "request" if argv

# The basename of the process's program (undefined when unknown).
program := text.basename(argv[0]) if {
	is_string(argv[0])
	argv[0] != ""
}

# The main process exits as soon as it starts: a one-shot download or probe
# tool (curl, wget), or any program asked only for its help or version.
exits_at_once if program in one_shot_programs

exits_at_once if {
	count(argv) == 2
	argv[1] in info_flags
}

# Why it exits, for messages.
exit_reason := sprintf("%s %s only prints and exits", [program, argv[1]]) if {
	count(argv) == 2
	argv[1] in info_flags
} else := sprintf("%s makes one request and exits", [program])

# The effective argv as the user would read it: ["curl", "--help"].
argv_text := text.exec_array(argv)

# The keep-alive process a container that only carries a healthcheck runs.
keep_alive := ["sleep", "infinity"]

# The image certainly has no sleep, so the keep-alive needs another image
# (the catalog's sidecar image), as with the runtime dhi.io/curl tags.
lacks_sleep if image.image_program_missing("sleep")

# The image to run the keep-alive on: the request's, unless it certainly
# lacks sleep.
keep_alive_image := image.sidecar_image if lacks_sleep

else := request.image_ref

# METADATA
# title: Image facts
# description: |
#   What the image of a container-create request contains: a shell (/bin/sh),
#   a given program, an interpreter able to make an HTTP request itself.
#
#   Every fact is tri-state: true, false, or unknown (undefined). Rules deny
#   only on an explicit false; unknown is treated as present. Each fact is
#   one precedence chain that yields its value and its source together
#   (shell, program(p), image_program(p)); shell_fact, program_fact(p) and
#   the *_source helpers read them. Sources, highest precedence first:
#     shell:   input.image.shell_found (bool, from the image's real files)
#              > label com.docker.dhi.shell ("" = no shell, else shell)
#              > the container itself runs a shell or a *.sh script
#              > the catalog entry's `shell` (see catalog_entry)
#     program: unknown when input.image.programs[P].unknown (a bind or
#              volume mount covers it; hidden_by names the mount)
#              > input.image.programs[P].found (bool, from the image's files;
#              keyed by the program exactly as the healthcheck names it)
#              > the container itself runs P (entrypoint[0] or command[0])
#              > for "/bin/sh": the shell fact above
#              > the catalog entry's programs[basename(P)]
#              > for sh/bash/ash/dash: the shell fact above
package hardened.lib.image

import data.hardened.lib.request
import data.hardened.lib.text

shell_label := "com.docker.dhi.shell"

shell_names := {"sh", "bash", "ash", "dash"}

# The sidecar image used in fixes; the catalog may override it.
default sidecar_image := "dhi.io/curl:8-debian13-dev"

sidecar_image := s if {
	s := data.catalog.sidecar_image
	is_string(s)
	s != ""
}

repository := object.get(input, ["image", "repository"], "")

tag := object.get(input, ["image", "tag"], "")

labels := l if {
	l := input.image.labels
	is_object(l)
} else := {}

# ---------------------------------------------------------------------------
# Catalog lookup
#
# data.catalog.images is an object keyed by repository: an exact repository
# ("dhi.io/node") or a prefix key ending in "*" ("dhi.io/*",
# "gcr.io/distroless/nodejs*"), whose "*" stands for the rest of the name
# up to, not across, a "/". Each key holds an ordered list of entries. The
# entry of an image is the first entry whose tag matches in the exact key's
# list; failing that (no such key, or none of its tags match), the first
# one in the lists of the matching prefix keys, longest key first. So a
# specific key that knows only some tags falls through to the generic facts
# of its prefix key. Docker Hub mirrors of Docker Hardened Images
# (docker.io/<org>/dhi-<name>) are looked up as dhi.io/<name>.
#
# Every decision reads this: the rules below look the exact key up directly
# and scan the keys (never the entries) only when that finds nothing, with
# no function call per key or entry.
# ---------------------------------------------------------------------------

# The request's repository as the catalog keys it: a Docker Hub mirror
# "docker.io/acme/dhi-node" becomes "dhi.io/node"; anything else is kept.
catalog_repository := regex.replace(repository, `^docker\.io/[^/]*/dhi-([^/]*)$`, "dhi.io/$1")

# canonical_repository(repo): catalog_repository for any repository.
canonical_repository(repo) := r if {
	r := catalog_repository with input as {"image": {"repository": repo}}
}

# catalog_entry(repo, tag): the catalog entry of repo:tag (undefined if
# none); repo as in input.image.repository.
catalog_entry(repo, tg) := e if {
	e := entry with input as {"image": {"repository": repo, "tag": tg}}
}

# The catalog entry of the request's image (undefined if none): a rule, so
# it is looked up once per decision however many facts read it. An entry
# without "tag" matches every tag, even an unknown one (digest-only
# reference, tag ""); an entry with a tag glob never matches an unknown tag.
entry := e if {
	tag != ""
	e := [x | some x in data.catalog.images[catalog_repository]; glob.match(object.get(x, "tag", "*"), null, tag)][0]
} else := e if {
	tag != ""
	e := [x | some x in _prefix_entries; glob.match(object.get(x, "tag", "*"), null, tag)][0]
} else := e if {
	tag == ""
	e := [x | some x in data.catalog.images[catalog_repository]; not x.tag][0]
} else := e if {
	tag == ""
	e := [x | some x in _prefix_entries; not x.tag][0]
}

# The entries of the matching prefix keys, longest key first.
_prefix_entries := [x | some k in prefix_keys; some x in data.catalog.images[k]]

# The prefix keys that match the request's repository, longest first: the
# key without its "*" starts the repository and reaches past its last "/",
# i.e. the key starts with the repository's directory (dir).
prefix_keys := [pair[1] | some pair in sort(pairs)] if {
	catalog_repository != "" # "" for an image ID
	keys := object.keys(data.catalog.images)
	dir := regex.replace(catalog_repository, `[^/]*$`, "")

	# one call first: most unknown images have no key in their directory
	strings.any_prefix_match(keys, dir)
	pairs := [[0 - count(k), k] |
		some k in keys
		startswith(k, dir)
		endswith(k, "*")
		startswith(catalog_repository, trim_suffix(k, "*"))
	]
} else := []

# The family name of the request's image ("" if not in the catalog).
family := f if {
	f := entry.family
	is_string(f)
} else := ""

# The image is a known hardened image: the catalog says so, or it carries
# Docker Hardened Images labels (also inherited by images built FROM one).
is_hardened if entry.hardened == true

is_hardened if {
	some k, _ in labels
	startswith(k, "com.docker.dhi.")
}

# ---------------------------------------------------------------------------
# Shell
# ---------------------------------------------------------------------------

# shell: whether /bin/sh exists, with where that comes from, in one
# precedence chain so the two cannot disagree: {"value": bool, "source":
# "index" | "label" | "entrypoint" | "catalog"}, or {"source": "unknown" |
# "mount"} without a value ("mount": a bind or volume covers /bin/sh). A rule, so a decision works it out once.
shell := {"source": "mount"} if {
	input.image.programs["/bin/sh"].unknown == true
} else := {"value": f, "source": "index"} if {
	f := input.image.shell_found
	is_boolean(f)
} else := {"value": labels[shell_label] != "", "source": "label"} if {
	is_string(labels[shell_label])
} else := {"value": true, "source": "entrypoint"} if {
	_runs_shell
} else := {"value": f, "source": "catalog"} if {
	f := entry.shell
	is_boolean(f)
} else := {"source": "unknown"}

# Whether /bin/sh exists: true, false, or undefined (unknown).
shell_fact := shell.value

# Where shell_fact came from: "mount", "index", "label", "entrypoint",
# "catalog" or "unknown".
shell_source := shell.source

# The image has no /bin/sh (known for sure: deny-worthy).
no_shell if shell_fact == false

# The image has /bin/sh or we do not know (never deny on unknown).
has_shell if not no_shell

_runs_shell if {
	b := text.basename(request.argv0)
	_is_shell_or_script(b)
}

_is_shell_or_script(b) if b in shell_names

_is_shell_or_script(b) if endswith(b, ".sh")

# ---------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------

# program(p): whether program p ("curl", "/usr/bin/curl") is in the image,
# with where that comes from, in one precedence chain: {"value": bool,
# "source": "index" | "entrypoint" | "shell" | "catalog"}, or {"source":
# "unknown" | "mount"} without a value. Besides what the image says (image_program),
# a program the container itself runs counts as present, unless the
# image's own files say otherwise.
program(p) := {"source": "mount"} if {
	_mount_unknown(p)
} else := {"value": f, "source": "index"} if {
	f := input.image.programs[p].found
	is_boolean(f)
} else := {"value": true, "source": "entrypoint"} if {
	_runs(p)
} else := image_program(p)

# image_program(p): what the image alone says of program p, without the
# "the container runs it" evidence: the image's files, then the shell facts
# for /bin/sh, then the catalog, then the shell facts for shell names.
# Rules that test the container's own program (HA004) use it, since that
# evidence is the claim under test.
image_program(p) := {"source": "mount"} if {
	_mount_unknown(p)
} else := {"value": f, "source": "index"} if {
	f := input.image.programs[p].found
	is_boolean(f)
} else := {"value": f, "source": "shell"} if {
	p == "/bin/sh"
	f := shell_fact
} else := {"value": f, "source": "catalog"} if {
	f := entry.programs[text.basename(p)]
	is_boolean(f)
} else := {"value": f, "source": "shell"} if {
	text.basename(p) in shell_names
	f := shell_fact
} else := {"source": "unknown"}

# A bind or volume mount covers where the container would find p: its
# content is not the image's, so nothing (index, catalog, labels) can say.
# programs[p].hidden_by names the mount target; a tmpfs that hides the
# image's p is no mystery: it leaves found false (source "index").
_mount_unknown(p) if input.image.programs[p].unknown == true

# program_fact(p): program(p)'s value: true, false, or undefined (unknown).
program_fact(p) := program(p).value

# image_program_fact(p): image_program(p)'s value.
image_program_fact(p) := image_program(p).value

# program_source(p): program(p)'s source: "mount", "index", "entrypoint",
# "catalog", "shell" or "unknown".
program_source(p) := program(p).source

# The image certainly lacks program p.
program_missing(p) if program(p).value == false

# The image itself certainly lacks program p, whatever the container runs.
image_program_missing(p) if image_program(p).value == false

# The image has program p or we do not know.
has_program(p) if not program_missing(p)

_runs(p) if text.basename(request.argv0) == text.basename(p)

# ---------------------------------------------------------------------------
# Interpreters
# ---------------------------------------------------------------------------

# interpreter_kind(p): "node" for node/nodejs, "python" for python,
# python3, python3.N (by basename); undefined otherwise.
interpreter_kind(p) := "node" if regex.match(`(^|/)(node|nodejs)$`, p)

else := "python" if regex.match("(^|/)python(3(\\.[0-9]+)?)?$", p)

# An interpreter of the image that can make an HTTP request itself, as the
# argv[0] to use in an exec-form healthcheck: the one the container runs
# (entrypoint[0] or command[0]), else the catalog's `interpreter`, else a
# node/python3 the image scan found. Undefined when there is none.
interpreter := i if {
	i := [a | some a in request.argv0s; interpreter_kind(a)][0]
} else := i if {
	i := entry.interpreter
	is_string(i)
	interpreter_kind(i)
	not program_missing(i)
} else := i if {
	i := [p | some p in ["node", "python3"]; input.image.programs[p].found == true][0]
}

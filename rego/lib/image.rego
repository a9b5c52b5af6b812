# METADATA
# title: Image facts
# description: |
#   What the image of a container-create request contains: a shell (/bin/sh),
#   a given program, an interpreter able to make an HTTP request itself.
#
#   Every fact is tri-state: true, false, or unknown (undefined). Rules deny
#   only on an explicit false; unknown is treated as present. Sources, highest
#   precedence first:
#     shell:   input.image.shell_found (bool, from the image's real files)
#              > label com.docker.dhi.shell ("" = no shell, else shell)
#              > the container itself runs a shell or a *.sh script
#              > the first matching data.catalog.images entry's `shell`
#     program: input.image.programs[P].found (bool, from the image's files;
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
# Catalog matching (data.catalog.images: ordered, first match wins)
# ---------------------------------------------------------------------------

catalog_entries := e if {
	e := data.catalog.images
	is_array(e)
} else := []

# matches(entry, repo, tag): one of entry.repositories globs matches repo
# ("*" stops at "/") and entry.tag matches tag. An entry without "tag"
# matches every tag, even an unknown one (digest-only reference, tag "");
# an entry with a tag glob never matches an unknown tag.
matches(entry, repo, tg) if {
	some pattern in entry.repositories
	startswith(repo, split(pattern, "*")[0]) # cheap pre-filter
	glob.match(pattern, ["/"], repo)
	_tag_matches(entry, tg)
}

_tag_matches(entry, _) if object.get(entry, "tag", null) == null

_tag_matches(entry, tg) if {
	tg != ""
	entry.tag == "*"
}

_tag_matches(entry, tg) if {
	tg != ""
	entry.tag != "*"
	glob.match(entry.tag, null, tg)
}

# The index of the first catalog entry matching repo:tag (undefined if none).
catalog_index(repo, tg) := min({i |
	some i, entry in catalog_entries
	matches(entry, repo, tg)
})

# The first catalog entry matching repo:tag (undefined if none).
catalog_entry(repo, tg) := catalog_entries[catalog_index(repo, tg)]

# The catalog entry of the request's image (undefined if none).
entry := catalog_entry(repository, tag)

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

# Whether /bin/sh exists: true, false, or undefined (unknown).
shell_fact := f if {
	f := input.image.shell_found
	is_boolean(f)
} else := false if {
	labels[shell_label] == ""
} else if {
	is_string(labels[shell_label])
} else if {
	_runs_shell
} else := f if {
	f := entry.shell
	is_boolean(f)
}

# Where shell_fact came from: "scan", "label", "entrypoint", "catalog" or
# "unknown".
shell_source := "scan" if {
	is_boolean(input.image.shell_found)
} else := "label" if {
	is_string(labels[shell_label])
} else := "entrypoint" if {
	_runs_shell
} else := "catalog" if {
	is_boolean(entry.shell)
} else := "unknown"

# The image has no /bin/sh (known for sure: deny-worthy).
no_shell if shell_fact == false

# The image has /bin/sh or we do not know (never deny on unknown).
has_shell if not no_shell

_runs_shell if {
	some a in request.argv0s
	b := text.basename(a)
	_is_shell_or_script(b)
}

_is_shell_or_script(b) if b in shell_names

_is_shell_or_script(b) if endswith(b, ".sh")

# ---------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------

# program_fact(p): whether program p ("curl", "/usr/bin/curl") is in the
# image: true, false, or undefined (unknown).
program_fact(p) := f if {
	f := input.image.programs[p].found
	is_boolean(f)
} else if {
	_runs(p)
} else := shell_fact if {
	p == "/bin/sh"
} else := f if {
	f := entry.programs[text.basename(p)]
	is_boolean(f)
} else := shell_fact if {
	text.basename(p) in shell_names
}

# program_source(p): "scan", "entrypoint", "catalog", "shell" or "unknown".
program_source(p) := "scan" if {
	is_boolean(input.image.programs[p].found)
} else := "entrypoint" if {
	_runs(p)
} else := "shell" if {
	p == "/bin/sh"
	is_boolean(shell_fact)
} else := "catalog" if {
	is_boolean(entry.programs[text.basename(p)])
} else := "shell" if {
	text.basename(p) in shell_names
	is_boolean(shell_fact)
} else := "unknown"

# The image certainly lacks program p.
program_missing(p) if program_fact(p) == false

# The image has program p or we do not know.
has_program(p) if not program_missing(p)

_runs(p) if {
	some a in request.argv0s
	text.basename(a) == text.basename(p)
}

# ---------------------------------------------------------------------------
# Interpreters
# ---------------------------------------------------------------------------

# interpreter_kind(p): "node" for node/nodejs, "python" for python,
# python3, python3.N (by basename); undefined otherwise.
interpreter_kind(p) := "node" if regex.match(`^(node|nodejs)$`, text.basename(p))

interpreter_kind(p) := "python" if regex.match(`^python(3(\.[0-9]+)?)?$`, text.basename(p))

# An interpreter of the image that can make an HTTP request itself, as the
# argv[0] to use in an exec-form healthcheck: the one the container runs
# (entrypoint[0] or command[0]), else the catalog's `interpreter`, else a
# node/python3 the image scan found. Undefined when there is none.
interpreter := _interpreters[0]

_interpreters := array.concat(
	[a | some a in request.argv0s; interpreter_kind(a)],
	array.concat(_catalog_interpreter, _scanned_interpreters),
)

_catalog_interpreter := [i |
	i := entry.interpreter
	is_string(i)
	interpreter_kind(i)
	not program_missing(i)
]

_scanned_interpreters := [p |
	some p in ["node", "python3"]
	input.image.programs[p].found == true
]

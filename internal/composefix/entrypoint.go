package composefix

import (
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/yamlnode"
)

// setEntrypoint plans a set_entrypoint action: the service's entrypoint
// becomes a.Entrypoint, its command goes (a keep-alive such as
// `sleep infinity` takes no other arguments, and compose would append
// them), and, with a.Image, its image changes too.
//
// The action is all or nothing: a new entrypoint with the old command
// still behind it, or on an image without its program, would fail in a
// new way instead of working.
func (f *file) setEntrypoint(a policy.Action) ([]edit, func(any) error, string) {
	if a.Service == "" || len(a.Entrypoint) == 0 {
		return nil, nil, "the action is incomplete: it needs a service and an entrypoint"
	}
	b, reason := f.serviceBlock(a.Service)
	if reason != "" {
		return nil, nil, reason
	}
	sv, svcEnd, childInd := b.val, b.end, b.childIndent

	var (
		edits []edit
		done  = true // the file already has everything the action sets
	)
	line := strings.Repeat(" ", childInd) + "entrypoint: " + flowList(a.Entrypoint) + f.eol

	// The image first: a new entrypoint line goes after it.
	insertAt := f.starts[svcEnd+1]
	ik, iv := yamlnode.Get(sv, "image")
	switch {
	case a.Image == "":
	case ik == nil && lookup(sv, "image") != nil:
		return nil, nil, fmt.Sprintf("the image of %q comes from a YAML anchor through a merge key (<<); edit the file by hand", a.Service)
	case ik == nil:
		return nil, nil, fmt.Sprintf("service %q sets no image in this file; set image: %s by hand", a.Service, a.Image)
	case iv.Kind != yaml.ScalarNode || f.aliased[iv]:
		return nil, nil, fmt.Sprintf("the image of %q is not a plain value; edit the file by hand", a.Service)
	case iv.Value != a.Image:
		off := f.offset(iv)
		end := -1
		if off >= 0 {
			end = f.scalarEnd(iv, off)
		}
		if end < 0 {
			return nil, nil, fmt.Sprintf("the image of %q is written in a way that cannot be edited safely; edit the file by hand", a.Service)
		}
		edits = append(edits, edit{start: off, end: end, text: quoteAs(iv.Style, a.Image)})
		done = false
	}
	if ik != nil {
		if l, ind, ok := f.lineStart(ik); ok {
			insertAt = f.starts[f.blockEnd(l, ind, iv)+1]
		}
	}

	ek, ev := yamlnode.Get(sv, "entrypoint")
	switch {
	case ek == nil && lookup(sv, "entrypoint") != nil:
		return nil, nil, fmt.Sprintf("the entrypoint of %q comes from a YAML anchor through a merge key (<<); edit the file by hand", a.Service)
	case ek == nil:
		edits = append(edits, edit{start: insertAt, end: insertAt, text: line})
		done = false
	case f.shared(ev) || f.aliased[ek]:
		return nil, nil, fmt.Sprintf("the entrypoint of %q is a YAML anchor that other parts of the file use; edit the file by hand", a.Service)
	case !sameList(ev, a.Entrypoint):
		eLine, eInd, ok := f.lineStart(ek)
		if !ok {
			return nil, nil, fmt.Sprintf("the entrypoint of %q does not start its line; edit the file by hand", a.Service)
		}
		edits = append(edits, f.lineRange(eLine, f.blockEnd(eLine, eInd, ev), strings.Repeat(" ", eInd)+"entrypoint: "+flowList(a.Entrypoint)+f.eol))
		done = false
	}

	removeCommand := false
	ck, cv := yamlnode.Get(sv, "command")
	switch {
	case ck == nil && lookup(sv, "command") != nil,
		ck != nil && yamlnode.InMerge(sv, "command"):
		return nil, nil, fmt.Sprintf("the command of %q comes from a YAML anchor through a merge key (<<), and removing it is not possible here; edit the file by hand", a.Service)
	case ck == nil:
	case f.shared(cv) || f.aliased[ck]:
		return nil, nil, fmt.Sprintf("the command of %q is a YAML anchor that other parts of the file use; edit the file by hand", a.Service)
	default:
		cLine, cInd, ok := f.lineStart(ck)
		if !ok {
			return nil, nil, fmt.Sprintf("the command of %q does not start its line; edit the file by hand", a.Service)
		}
		cEnd := f.blockEnd(cLine, cInd, cv)
		// An entrypoint line inserted right after the command would land
		// inside the range removed; put it where the command was.
		r := f.lineRange(cLine, cEnd, "")
		for i, e := range edits {
			if e.start == e.end && e.start > r.start && e.start <= r.end {
				edits[i].start, edits[i].end = r.start, r.start
			}
		}
		edits = append(edits, r)
		removeCommand = true
		done = false
	}
	if done {
		return nil, nil, ReasonApplied
	}

	expect := func(root any) error {
		_, svc, err := serviceMap(root, a.Service)
		if err != nil {
			return err
		}
		ep := make([]any, len(a.Entrypoint))
		for i, s := range a.Entrypoint {
			ep[i] = s
		}
		svc["entrypoint"] = ep
		if removeCommand {
			delete(svc, "command")
		}
		if a.Image != "" {
			svc["image"] = a.Image
		}
		return nil
	}
	return edits, expect, ""
}

// flowList writes a list of strings as a YAML flow sequence of JSON
// strings: ["sleep", "infinity"].
func flowList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// sameList reports whether n is a sequence of exactly these strings.
func sameList(n *yaml.Node, want []string) bool {
	n = yamlnode.Resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode || len(n.Content) != len(want) {
		return false
	}
	got := make([]string, len(n.Content))
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Tag != "!!str" {
			return false
		}
		got[i] = c.Value
	}
	return slices.Equal(got, want)
}

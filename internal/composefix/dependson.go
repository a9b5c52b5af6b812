package composefix

import (
	"fmt"
	"slices"

	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/yamlnode"
)

// repoint plans a repoint_depends_on action. The From entry is renamed in
// place, so its condition and its comments stay; when To is already there,
// the From entry is removed instead, as compose refuses a service listed
// twice and To's own settings are the ones the user chose.
func (f *file) repoint(a policy.Action) ([]edit, func(any) error, string) {
	if a.Service == "" || a.From == "" || a.To == "" || a.From == a.To {
		return nil, nil, "the action is incomplete: it needs a service and two different depends_on entries"
	}
	_, _, sv, reason := f.service(a.Service)
	if reason != "" {
		return nil, nil, reason
	}
	dk, dv := yamlnode.Get(sv, "depends_on")
	switch {
	case dk == nil && lookup(sv, "depends_on") != nil:
		return nil, nil, fmt.Sprintf("the depends_on of %q comes from a YAML anchor through a merge key (<<); edit the file by hand", a.Service)
	case dk == nil:
		return nil, nil, fmt.Sprintf("service %q has no depends_on in this file", a.Service)
	case dv.Kind == yaml.AliasNode:
		return nil, nil, fmt.Sprintf("the depends_on of %q is a YAML alias (*%s); edit the file by hand", a.Service, dv.Value)
	case dv.Kind != yaml.SequenceNode && dv.Kind != yaml.MappingNode:
		return nil, nil, fmt.Sprintf("the depends_on of %q is neither a list nor a mapping", a.Service)
	case f.shared(dv):
		return nil, nil, fmt.Sprintf("the depends_on of %q is a YAML anchor that other parts of the file use; edit the file by hand", a.Service)
	}

	// The entries' names: list items, or mapping keys.
	var names []*yaml.Node
	if dv.Kind == yaml.SequenceNode {
		names = dv.Content
	} else {
		for i := 0; i+1 < len(dv.Content); i += 2 {
			names = append(names, dv.Content[i])
		}
	}
	from, to := -1, -1
	for i, n := range names {
		if n.Kind != yaml.ScalarNode {
			continue
		}
		switch n.Value {
		case a.From:
			if from < 0 {
				from = i
			}
		case a.To:
			to = i
		}
	}
	switch {
	case from < 0 && to >= 0:
		return nil, nil, ReasonApplied
	case from < 0 && dv.Kind == yaml.MappingNode && lookup(dv, a.From) != nil:
		return nil, nil, fmt.Sprintf("the depends_on entry %q of %q comes from a YAML merge key (<<); edit the file by hand", a.From, a.Service)
	case from < 0:
		return nil, nil, fmt.Sprintf("service %q does not depend on %q in this file", a.Service, a.From)
	}

	n := names[from]
	var e edit
	switch {
	case to < 0:
		off := f.offset(n)
		end := -1
		if off >= 0 {
			end = f.scalarEnd(n, off)
		}
		if end < 0 {
			return nil, nil, fmt.Sprintf("the depends_on entry %q of %q is written in a way that cannot be edited safely; edit the file by hand", a.From, a.Service)
		}
		e = edit{start: off, end: end, text: quoteAs(n.Style, a.To)}
	case isFlow(dv):
		off := f.offset(n)
		ok := off >= 0
		if ok {
			e, ok = f.removeFlowEntry(off)
		}
		if !ok {
			return nil, nil, fmt.Sprintf("the depends_on entry %q of %q cannot be removed safely; edit the file by hand", a.From, a.Service)
		}
	default:
		var (
			line, ind int
			ok        bool
			value     = n
		)
		if dv.Kind == yaml.SequenceNode {
			line, ind, ok = f.itemStart(n)
		} else {
			line, ind, ok = f.lineStart(n)
			value = dv.Content[2*from+1]
		}
		if !ok {
			return nil, nil, fmt.Sprintf("the depends_on entry %q of %q does not start its line; edit the file by hand", a.From, a.Service)
		}
		e = f.lineRange(line, f.blockEnd(line, ind, value), "")
	}

	expect := func(root any) error {
		_, svc, err := serviceMap(root, a.Service)
		if err != nil {
			return err
		}
		switch d := svc["depends_on"].(type) {
		case []any:
			i := slices.Index(d, any(a.From))
			if i < 0 {
				return fmt.Errorf("%q is not in depends_on", a.From)
			}
			if to >= 0 {
				svc["depends_on"] = slices.Delete(d, i, i+1)
			} else {
				d[i] = a.To
			}
		case map[string]any:
			v, ok := d[a.From]
			if !ok {
				return fmt.Errorf("%q is not in depends_on", a.From)
			}
			delete(d, a.From)
			if to < 0 {
				d[a.To] = v
			}
		default:
			return fmt.Errorf("depends_on of %q is %T", a.Service, d)
		}
		return nil
	}
	return []edit{e}, expect, ""
}

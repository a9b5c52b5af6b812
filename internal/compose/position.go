package compose

import (
	"os"

	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/yamlnode"
)

// positions holds the YAML trees of a project's files, in load order.
type positions struct {
	files []string
	roots []*yaml.Node
}

// parsePositions parses each compose file into a node tree. A file that
// cannot be read or parsed (compose-go loaded it, so this is unexpected)
// simply answers no positions.
func parsePositions(files []string) *positions {
	ps := &positions{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Content) == 0 {
			continue
		}
		ps.files = append(ps.files, f)
		ps.roots = append(ps.roots, doc.Content[0])
	}
	return ps
}

// Position locates a service's setting in the project's files, for
// messages that point at the line to fix. keyPath is a path of keys under
// services.<service>, e.g. ("healthcheck", "test"), ("network_mode") or
// ("depends_on", "api"); an element that is an entry of a list (depends_on
// in its short form) matches that entry.
//
// The answer is the position of the last key, except when its value is a
// list or the key is a healthcheck's "test": then it is the value's, the
// part a rule quotes. Files are searched from the last to the first, as
// override files win. When no file has the whole path, it falls back to
// the service's key in the last file that defines the service; file is ""
// when no file defines it (a service that only comes from `extends` of
// another file, or from `include`). line and col are 1-based.
func (p *Project) Position(service string, keyPath ...string) (file string, line, col int) {
	return p.Locate(service, [][]string{keyPath})
}

// Locate is Position for the first of several key paths that a file has,
// most precise first: a rule about a missing memory limit points at
// mem_limit when it is set and too high, else at the image.
func (p *Project) Locate(service string, keyPaths [][]string) (file string, line, col int) {
	ps := p.positions
	if ps == nil {
		return "", 0, 0
	}
	for _, keyPath := range keyPaths {
		for i := len(ps.roots) - 1; i >= 0; i-- {
			if n := find(serviceNode(ps.roots[i], service), keyPath); n != nil {
				return ps.files[i], n.Line, n.Column
			}
		}
	}
	for i := len(ps.roots) - 1; i >= 0; i-- {
		_, services := yamlnode.Lookup(ps.roots[i], "services")
		if key, _ := yamlnode.Lookup(services, service); key != nil {
			return ps.files[i], key.Line, key.Column
		}
	}
	return "", 0, 0
}

// serviceNode is services.<service> in one file's tree, nil when absent.
func serviceNode(root *yaml.Node, service string) *yaml.Node {
	_, services := yamlnode.Lookup(root, "services")
	_, svc := yamlnode.Lookup(services, service)
	return svc
}

// find follows keyPath under node and returns the node to point at, nil
// when the path is not there.
func find(node *yaml.Node, keyPath []string) *yaml.Node {
	if node == nil || len(keyPath) == 0 {
		return nil
	}
	cur := node
	for i, k := range keyPath {
		last := i == len(keyPath)-1
		cur = yamlnode.Resolve(cur)
		if cur == nil {
			return nil
		}
		switch cur.Kind {
		case yaml.MappingNode:
			key, value := yamlnode.Lookup(cur, k)
			if key == nil {
				return nil
			}
			if last {
				if v := yamlnode.Resolve(value); v != nil && (v.Kind == yaml.SequenceNode || k == "test") {
					return v
				}
				return key
			}
			cur = value
		case yaml.SequenceNode:
			if !last {
				return nil
			}
			for _, item := range cur.Content {
				if it := yamlnode.Resolve(item); it != nil && it.Kind == yaml.ScalarNode && it.Value == k {
					return item
				}
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}

package compose

import (
	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/yamlnode"
)

// Position locates a service's setting in the project's files, for
// messages that point at the line to fix. keyPath is a path of keys under
// services.<service>, e.g. ("healthcheck", "test"), ("network_mode") or
// ("depends_on", "api"); an element that is an entry of a list (depends_on
// in its short form) matches that entry.
//
// The answer is the position of the last key, except when its value is a
// list or the key is a healthcheck's "test": then it is the value's, the
// part a rule quotes. Files are searched as compose-go merges them, the
// winning definition first: from the last compose file to the first, and
// in each, the service, then the service it `extends` (in the same file
// or another), then the files it `include`s, so that an inherited or
// included setting points at the line in the file that sets it. When no
// definition has the whole path, it falls back to the service's key in
// the winning definition; file is "" when no file defines the service.
// line and col are 1-based.
func (p *Project) Position(service string, keyPath ...string) (file string, line, col int) {
	return p.Locate(service, [][]string{keyPath})
}

// Locate is Position for the first of several key paths that a file has,
// most precise first: a rule about a missing memory limit points at
// mem_limit when it is set and too high, else at the image.
func (p *Project) Locate(service string, keyPaths [][]string) (file string, line, col int) {
	if p.sources == nil {
		return "", 0, 0
	}
	layers := p.sources.layers(service)
	for _, keyPath := range keyPaths {
		for _, l := range layers {
			if n := find(l.value, keyPath); n != nil {
				return l.file, n.Line, n.Column
			}
		}
	}
	if len(layers) > 0 {
		return layers[0].file, layers[0].key.Line, layers[0].key.Column
	}
	return "", 0, 0
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

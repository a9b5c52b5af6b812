// Package yamlnode reads YAML node trees the way compose files use them:
// through aliases and "<<" merge keys. The position finder (compose) and
// the fixer (composefix) must agree on where a key comes from, so both
// read the tree with these functions.
package yamlnode

import yaml "go.yaml.in/yaml/v4"

// maxDepth bounds alias chains and nested merges: compose files use a few
// levels, and a bound keeps a hostile file from recursing without end.
const maxDepth = 100

// Resolve follows aliases to the node they name; nil for nil, or for a
// chain longer than the bound.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// Get finds key among a mapping's own keys: a key that a merge provides
// does not count, as its text lives elsewhere in the file.
func Get(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if c := m.Content[i]; c.Kind == yaml.ScalarNode && c.Value == key && c.Value != "<<" {
			return c, m.Content[i+1]
		}
	}
	return nil, nil
}

// Lookup finds key in a mapping (through aliases), then in the mappings
// it merges with "<<", as a YAML loader does: compose files often share
// settings through x- anchors. v is the value node as written (it may be
// an alias).
func Lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	return lookup(m, key, 0)
}

func lookup(m *yaml.Node, key string, depth int) (k, v *yaml.Node) {
	m = Resolve(m)
	if m == nil || m.Kind != yaml.MappingNode || depth > maxDepth {
		return nil, nil
	}
	if k, v := Get(m, key); k != nil {
		return k, v
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "<<" {
			continue
		}
		if k, v := merged(m.Content[i+1], key, depth); k != nil {
			return k, v
		}
	}
	return nil, nil
}

// InMerge reports whether a mapping's merge keys provide key, whether or
// not the mapping's own key hides it.
func InMerge(m *yaml.Node, key string) bool {
	m = Resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "<<" {
			continue
		}
		if k, _ := merged(m.Content[i+1], key, 0); k != nil {
			return true
		}
	}
	return false
}

// merged looks key up in the value of a "<<" key: one mapping or a list of
// them, the first that has it winning.
func merged(value *yaml.Node, key string, depth int) (k, v *yaml.Node) {
	src := Resolve(value)
	if src == nil {
		return nil, nil
	}
	sources := []*yaml.Node{src}
	if src.Kind == yaml.SequenceNode {
		sources = src.Content
	}
	for _, s := range sources {
		if k, v := lookup(s, key, depth+1); k != nil {
			return k, v
		}
	}
	return nil, nil
}

package yamlnode

import (
	"testing"

	yaml "go.yaml.in/yaml/v4"
)

func root(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

const merges = `x-base: &base
  image: base:1
  healthcheck: &hc
    test: [CMD, curl]
x-more: &more
  user: app
svc:
  <<: [*base, *more]
  image: own:2
alias: *base
`

func TestLookup(t *testing.T) {
	r := root(t, merges)
	_, svc := Get(r, "svc")
	for key, want := range map[string]int{"image": 9, "healthcheck": 3, "user": 6} {
		k, _ := Lookup(svc, key)
		if k == nil || k.Line != want {
			t.Errorf("Lookup(svc, %q) = %v, want the key on line %d", key, k, want)
		}
	}
	if k, _ := Lookup(svc, "nope"); k != nil {
		t.Errorf("Lookup(svc, nope) = line %d", k.Line)
	}
	// Through an alias to a mapping.
	_, alias := Get(r, "alias")
	if k, v := Lookup(alias, "healthcheck"); k == nil || Resolve(v).Kind != yaml.MappingNode {
		t.Errorf("Lookup through an alias: %v %v", k, v)
	}
}

func TestGetIgnoresMerges(t *testing.T) {
	r := root(t, merges)
	_, svc := Get(r, "svc")
	if k, _ := Get(svc, "healthcheck"); k != nil {
		t.Errorf("Get found a merged key on line %d", k.Line)
	}
	if k, _ := Get(svc, "<<"); k != nil {
		t.Error(`Get returned the "<<" key itself`)
	}
	if k, _ := Get(svc, "image"); k == nil || k.Line != 9 {
		t.Errorf("Get(svc, image) = %v", k)
	}
}

func TestInMerge(t *testing.T) {
	r := root(t, merges)
	_, svc := Get(r, "svc")
	if !InMerge(svc, "image") || !InMerge(svc, "user") || InMerge(svc, "nope") {
		t.Error("InMerge: want image (hidden by svc's own) and user, not nope")
	}
}

func TestBoundedAliasChains(t *testing.T) {
	if k, _ := Lookup(nil, "x"); Resolve(nil) != nil || k != nil {
		t.Error("nil nodes must give nil")
	}
	// A cycle built by hand (the parser refuses one in text).
	a := &yaml.Node{Kind: yaml.AliasNode}
	a.Alias = a
	if Resolve(a) != nil {
		t.Error("Resolve of an alias cycle must give up")
	}
	m := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Value: "<<"}, {Kind: yaml.AliasNode, Alias: m}}
	if k, _ := Lookup(m, "x"); k != nil {
		t.Error("Lookup in a merge cycle found a key")
	}
	if InMerge(m, "x") {
		t.Error("InMerge in a merge cycle found a key")
	}
}

package policy

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestLayerOverlaysLikeADirectoryAndOwnsTheLibraryUnderRego: a layer's
// file replaces the rule file or library file at its path, adds the
// others, skips metadata, and cannot name a path outside itself.
func TestLayerOverlaysLikeADirectoryAndOwnsTheLibraryUnderRego(t *testing.T) {
	src := Sources{
		Library: fstest.MapFS{"lib/a.rego": {Data: []byte("package lib.a\n\nx := 1\n")}},
		Rules:   fstest.MapFS{"fam/r.rego": {Data: []byte("package fam\n\ny := 1\n")}, "catalog/data.json": {Data: []byte(`{"c": 1}`)}},
		Layers: []Layer{{Origin: "bundle:b/", Files: map[string][]byte{
			"/rego/lib/a.rego":  []byte("package lib.a\n\nx := 2\n"),
			"fam/r.rego":        []byte("package fam\n\ny := 2\n"),
			"catalog/data.json": []byte(`{"c": 2}`),
			"new/n.rego":        []byte("package n\n"),
			".manifest":         []byte(`{}`),
			"README.md":         []byte("x"),
		}}},
	}
	files, err := src.collect()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.key] = f.name + "=" + string(f.content)
	}
	want := map[string]string{
		"rego:lib/a.rego":   "bundle:b/rego/lib/a.rego=package lib.a\n\nx := 2\n",
		"fam/r.rego":        "bundle:b/fam/r.rego=package fam\n\ny := 2\n",
		"catalog/data.json": `bundle:b/catalog/data.json={"c": 2}`,
		"new/n.rego":        "bundle:b/new/n.rego=package n\n",
	}
	if len(got) != len(want) {
		t.Errorf("files %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	bf, err := src.BundleFiles()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range bf {
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, " ") != "catalog/data.json fam/r.rego new/n.rego rego/lib/a.rego" {
		t.Errorf("bundle paths %v", paths)
	}

	src.Layers = []Layer{{Origin: "bundle:b/", Files: map[string][]byte{"../escape.rego": []byte("package x\n")}}}
	if _, err := src.collect(); err == nil {
		t.Error("a layer path that leaves the bundle was taken")
	}
}

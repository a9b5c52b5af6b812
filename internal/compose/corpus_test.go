package compose

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// corpus lists the awesome-compose projects in testdata: 39 real compose
// projects (CC0, see testdata/awesome-compose/LICENSE).
func corpus(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir("../../testdata/awesome-compose")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join("../../testdata/awesome-compose", e.Name()))
		}
	}
	if len(dirs) != 39 {
		t.Fatalf("found %d corpus projects, want 39", len(dirs))
	}
	return dirs
}

// Every corpus project loads as docker compose would load it, and every
// service becomes a document the policies can evaluate.
func TestCorpusLoads(t *testing.T) {
	services := 0
	for _, dir := range corpus(t) {
		p, err := Load(context.Background(), Options{ProjectDir: dir})
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(dir), err)
			continue
		}
		docs := documents(p)
		if len(docs) != len(p.Model.Services) || len(docs) == 0 {
			t.Errorf("%s: %d documents for %d services", filepath.Base(dir), len(docs), len(p.Model.Services))
		}
		for _, d := range docs {
			if d.Container == nil || d.Container.Compose == nil || d.Container.Compose.Service != d.Container.Name {
				t.Errorf("%s: document without its compose service: %+v", filepath.Base(dir), d.Container)
				continue
			}
			if d.Value() == nil {
				t.Errorf("%s/%s: no policy value", filepath.Base(dir), d.Container.Name)
			}
		}
		services += len(docs)
	}
	t.Logf("%d services", services)
}

// BenchmarkCorpus loads the whole corpus and builds every document.
func BenchmarkCorpus(b *testing.B) {
	dirs := corpus(b)
	for b.Loop() {
		for _, dir := range dirs {
			p, err := Load(context.Background(), Options{ProjectDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range documents(p) {
				d.Value()
			}
		}
	}
}

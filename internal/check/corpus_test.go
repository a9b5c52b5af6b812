package check

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/compose"
)

const corpusDir = "../../testdata/awesome-compose"

// corpus lists the awesome-compose projects: 39 real compose projects
// (CC0, see testdata/awesome-compose/LICENSE).
func corpus(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(corpusDir, e.Name()))
		}
	}
	if len(dirs) != 39 {
		t.Fatalf("found %d corpus projects, want 39", len(dirs))
	}
	return dirs
}

// checkCorpus checks every corpus project as `authz check` in its
// directory would, and returns one line per finding:
// "project/file:line:col RULE service".
func checkCorpus(t testing.TB) (lines []string, services int) {
	t.Helper()
	c := &Checker{Engine: engine(t)}
	lines = []string{}
	for _, dir := range corpus(t) {
		p, err := compose.Load(context.Background(), compose.Options{ProjectDir: dir})
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(dir), err)
		}
		services += len(p.Model.Services)
		fs, err := c.Check(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(dir), err)
		}
		for _, f := range fs {
			rel, _ := filepath.Rel(corpusDir, f.File)
			lines = append(lines, fmt.Sprintf("%s:%d:%d %s %s", filepath.ToSlash(rel), f.Line, f.Column, f.Rule, f.Service))
		}
	}
	return lines, services
}

// TestCorpus checks the whole corpus: no project fails, and the findings
// are exactly the reviewed ones in testdata/awesome-compose-findings.json
// (these images are not hardened, so few rules apply to them).
func TestCorpus(t *testing.T) {
	got, services := checkCorpus(t)
	if services != 81 {
		t.Errorf("checked %d services, want the corpus's 81", services)
	}
	var want []string
	raw, err := os.ReadFile("../../testdata/awesome-compose-findings.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("corpus findings:\n%s\nwant (testdata/awesome-compose-findings.json):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// BenchmarkCorpus loads and checks the whole corpus: 39 projects, 81
// services.
func BenchmarkCorpus(b *testing.B) {
	for b.Loop() {
		checkCorpus(b)
	}
}

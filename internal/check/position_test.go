package check

import (
	"path/filepath"
	"testing"
)

// Findings on a service from an included file, or on a healthcheck
// inherited through extends from another file, point at the line in that
// file, not at the project's first file.
func TestFindingsPointIntoIncludedAndExtendedFiles(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "compose", "include-extends"))
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := checkFiles(t, filepath.Join(dir, "compose.yaml"))
	// The canonical HA002 (curl in dhi.io/node), once inherited, once
	// included.
	want := map[string]expected{
		"api":    {Rule: "HA002", Service: "api", File: "common/base.yaml", Line: 6, Column: 13},
		"worker": {Rule: "HA002", Service: "worker", File: "worker/compose.yaml", Line: 6, Column: 13},
	}
	for _, f := range fs {
		w, ok := want[f.Service]
		if !ok || f.Rule != w.Rule {
			continue
		}
		rel, _ := filepath.Rel(dir, f.File)
		got := expected{Rule: f.Rule, Service: f.Service, File: filepath.ToSlash(rel), Line: f.Line, Column: f.Column}
		if got != w {
			t.Errorf("%s on %s at %s:%d:%d, want %s:%d:%d", f.Rule, f.Service, got.File, got.Line, got.Column, w.File, w.Line, w.Column)
		}
		delete(want, f.Service)
	}
	for _, w := range want {
		t.Errorf("no %s finding on %s; findings: %+v", w.Rule, w.Service, fs)
	}
}

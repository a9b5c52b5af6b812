package check

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/compose"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

var testEngine *policy.Engine

func engine(t testing.TB) *policy.Engine {
	t.Helper()
	if testEngine == nil {
		e, err := policy.New(context.Background(), policy.Sources{Library: rego.FS, Rules: policies.FS})
		if err != nil {
			t.Fatal(err)
		}
		testEngine = e
	}
	return testEngine
}

func checkFiles(t testing.TB, files ...string) ([]Finding, *compose.Project) {
	t.Helper()
	p, err := compose.Load(context.Background(), compose.Options{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := (&Checker{Engine: engine(t)}).Check(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return fs, p
}

// expected is one line of a seed's expected-findings.json.
type expected struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Service  string `json:"service"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
}

// TestSeedExpectedFindings checks each seed example against the findings
// written down beside it (testdata/seed/*/expected-findings.json).
func TestSeedExpectedFindings(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "seed", "*", "compose.yaml"))
	if len(dirs) < 4 {
		t.Fatalf("seed examples: %v", dirs)
	}
	for _, file := range dirs {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			fs, _ := checkFiles(t, file)
			got := []expected{}
			for _, f := range fs {
				got = append(got, expected{f.Rule, f.Severity, f.Service, filepath.Base(f.File), f.Line, f.Column})
				if f.ImageSource != "catalog" || f.Message == "" || f.Fix.Summary == "" || f.Title == "" {
					t.Errorf("finding %+v: want catalog facts, a message, a title and a fix", f)
				}
			}
			b, _ := json.MarshalIndent(got, "", "  ")
			t.Logf("%s", b)
			want := []expected{}
			raw, err := os.ReadFile(filepath.Join(dir, "expected-findings.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if string(b) != string(mustJSON(t, want)) {
				t.Errorf("findings:\n%s\nwant:\n%s", b, mustJSON(t, want))
			}
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

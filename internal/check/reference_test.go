package check

import (
	"os"
	"path/filepath"
	"testing"
)

// A placeholder tag is no reference: the check says so, at the image key,
// instead of passing a healthcheck nothing could look at.
func TestUnreadableReferenceWarns(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	compose := "services:\n  app:\n    image: dhi.io/node:<tag>\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]\n  ok:\n    image: dhi.io/node:24\n  built:\n    build: .\n"
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	findings, _ := checkFiles(t, file)
	var got []Finding
	for _, f := range findings {
		if f.Rule == RuleUnreadableReference {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one %s finding, got %+v", RuleUnreadableReference, findings)
	}
	f := got[0]
	if f.Service != "app" || !f.IsWarning() || f.Line != 3 || f.Column != 5 || f.Image != "dhi.io/node:<tag>" {
		t.Errorf("finding %+v", f)
	}
}

func TestUnreadableReference(t *testing.T) {
	for ref, want := range map[string]bool{
		"":               false,
		"dhi.io/node:24": false,
		"nginx":          false,
		"dhi.io/node@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": false,
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef":                  false,
		"dhi.io/node:<tag>":  true,
		"Dhi.io/Node:24":     true,
		"dhi.io/node:${TAG}": true,
	} {
		if got := unreadableReference(ref); got != want {
			t.Errorf("unreadableReference(%q) = %v, want %v", ref, got, want)
		}
	}
}

// The healthchecks of testdata/dhi-examples run in their images, per the
// images' own definitions: the generated catalog must not call them
// broken, as the wildcard catalog did (curl in gitea, bash in opensearch,
// a shell in postgres).
func TestDHIExamplesHaveNoFalseErrors(t *testing.T) {
	findings, _ := checkFiles(t, "../../testdata/dhi-examples/compose.yaml")
	for _, f := range findings {
		t.Errorf("unexpected finding: %s %s %s: %s", f.Rule, f.Severity, f.Service, f.Message)
	}
}

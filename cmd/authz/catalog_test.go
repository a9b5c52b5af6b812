package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCatalogBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "data.json")
	_, stderr, code := run(t, "catalog", "build", "--from", "../../testdata/catalog", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "repositories") || !strings.Contains(stderr, "curl") {
		t.Errorf("no counts on stderr: %q", stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sources      map[string]map[string]string `json:"sources"`
		Facts        []map[string]any             `json:"facts"`
		Repositories map[string]map[string]any    `json:"repositories"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.Sources["dhi"]["commit"] == "" || c.Sources["chainguard"]["commit"] == "" || c.Repositories["dhi.io/curl"] == nil || c.Repositories["cgr.dev/chainguard/nginx"] == nil {
		t.Errorf("catalog: %s", raw)
	}

	// to stdout without -o
	stdout, _, code := run(t, "catalog", "build", "--from", "../../testdata/catalog")
	if code != 0 || stdout != string(raw) {
		t.Errorf("stdout (exit %d) differs from the file", code)
	}

	if _, stderr, code := run(t, "catalog", "build"); code != 2 || !strings.Contains(stderr, "--from") {
		t.Errorf("no --from: exit %d %q", code, stderr)
	}
	if _, _, code := run(t, "catalog", "build", "--from", t.TempDir()); code != 1 {
		t.Errorf("empty --from: exit %d", code)
	}
}

func TestCatalogShow(t *testing.T) {
	stdout, stderr, code := run(t, "catalog", "show", "dhi.io/curl:8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"matched:     generated tag 8 of dhi.io/curl",
		"source:      Docker Hardened Images https://github.com/docker-hardened-images/catalog at commit ",
		`entrypoint:  ["curl"]`,
		"  /bin/sh     false",
		"  curl        true",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("show dhi.io/curl:8 lacks %q:\n%s", want, stdout)
		}
	}

	// digest only, on Chainguard's Docker Hub namespace: the facts of all variants
	stdout, _, code = run(t, "catalog", "show", "--format", "json", "docker.io/chainguard/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var s catalogShow
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	if s.Tag != "" || s.Lookup["how"] != "all" || s.Lookup["key"] != "cgr.dev/chainguard/nginx" || s.Facts["curl"] != "false" || s.Facts["/bin/sh"] != "unknown" || s.Source["name"] != "Chainguard Images" {
		t.Errorf("show: %+v", s)
	}

	// an override
	stdout, _, _ = run(t, "catalog", "show", "gcr.io/distroless/base-debian12:debug")
	if !strings.Contains(stdout, "data.catalog.overrides, key gcr.io/distroless/*") || !strings.Contains(stdout, "  /bin/sh     false") || !strings.Contains(stdout, "  sh          true") {
		t.Errorf("show distroless debug:\n%s", stdout)
	}

	stdout, _, code = run(t, "catalog", "show", "docker.io/library/nginx:1")
	if code != 0 || !strings.Contains(stdout, "no entry") {
		t.Errorf("unknown image (exit %d):\n%s", code, stdout)
	}
	if _, stderr, code := run(t, "catalog", "show", "dhi.io/node:<tag>"); code != 2 || !strings.Contains(stderr, "not an image reference") {
		t.Errorf("placeholder tag: exit %d %q", code, stderr)
	}
	if _, _, code := run(t, "catalog", "show", "--format", "yaml", "dhi.io/node:24"); code != 2 {
		t.Errorf("bad format: exit %d", code)
	}
}

// Entries of your own, in DIR/catalog/local/data.json, are laid over the
// generated facts and the shipped overrides.
func TestCatalogShowLocalEntries(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "catalog", "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	local := `{"images": {
		"registry.local/base/*": [{"family": "acme-base", "hardened": true, "shell": false, "programs": {"curl": false}}],
		"dhi.io/postgres": [{"tag": "17*", "programs": {"pg_isready": true}, "basis": "our image scan"}]
	}}`
	if err := os.WriteFile(filepath.Join(dir, "catalog", "local", "data.json"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, "catalog", "show", "--policy", dir, "registry.local/base/app:1.2")
	if code != 0 || !strings.Contains(stdout, "hand-written entry of data.catalog.local, key registry.local/base/*, tag *, family acme-base\n") || !strings.Contains(stdout, "  curl        false") {
		t.Errorf("exit %d %s\n%s", code, stderr, stdout)
	}
	stdout, _, _ = run(t, "catalog", "show", "--policy", dir, "dhi.io/postgres:17")
	for _, want := range []string{"generated tag 17 of dhi.io/postgres; hand-written entry of data.catalog.local", "(basis: our image scan)", "  pg_isready  true", "  bash        true"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("postgres lacks %q:\n%s", want, stdout)
		}
	}
}

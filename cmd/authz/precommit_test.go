package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v4"
)

// The pre-commit hook runs `authz check` on the changed compose files: its
// file pattern must pick compose files and nothing else, and its entry must
// check what pre-commit passes.
func TestPreCommitHook(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var hooks []struct {
		ID            string `yaml:"id"`
		Entry         string `yaml:"entry"`
		Language      string `yaml:"language"`
		Files         string `yaml:"files"`
		PassFilenames bool   `yaml:"pass_filenames"`
	}
	if err := yaml.Unmarshal(b, &hooks); err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0].ID != "authz-check" || hooks[0].Language != "golang" || !hooks[0].PassFilenames {
		t.Fatalf("hooks: %+v", hooks)
	}
	h := hooks[0]
	files := regexp.MustCompile(h.Files)
	for name, want := range map[string]bool{
		"compose.yaml": true, "compose.yml": true, "docker-compose.yml": true, "deploy/compose.override.yaml": true,
		"docker-compose.override.yml": true, "docker-compose.prod.yaml": false, "mycompose.yaml": false, "compose.yaml.orig": false, "compose/app.json": false,
	} {
		if files.MatchString(name) != want {
			t.Errorf("files pattern on %q: %v, want %v", name, !want, want)
		}
	}

	// The entry, with the file names pre-commit passes.
	entry := strings.Fields(h.Entry)
	if entry[0] != "authz" {
		t.Fatalf("entry %q does not run the authz binary", h.Entry)
	}
	seed := filepath.Join("..", "..", "testdata", "seed")
	if _, _, code := run(t, append(entry[1:], filepath.Join(seed, "solution", "compose.yaml"), filepath.Join(seed, "production", "compose.yaml"))...); code != 0 {
		t.Errorf("hook on correct files: exit %d", code)
	}
	if _, _, code := run(t, append(entry[1:], filepath.Join(seed, "problem", "compose.yaml"))...); code != 1 {
		t.Errorf("hook on the problem: exit %d, want 1", code)
	}
}

// Package testtree writes the file trees tests load (compose projects,
// policy directories) and reads the project's shared test fixtures, so
// each test package does not carry its own copy of either.
package testtree

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Write creates files (slash-separated relative name → content) under a
// new temporary directory, with their directories, and returns it.
func Write(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Acme is a file of testdata/acme: the README's example rule
// (acme_registry.rego, images must come from the internal registry) and
// its test. It panics when the file is missing, so a package-level
// variable can hold it.
func Acme(name string) string {
	_, self, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "..", "testdata", "acme", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

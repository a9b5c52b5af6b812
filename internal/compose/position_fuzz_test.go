package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// FuzzLocate feeds arbitrary YAML to the position finder, which reads every
// compose file a second time, with what it includes and extends, to point
// at lines: it must never panic nor loop (an include or extends of itself),
// and an answer must be inside a file.
func FuzzLocate(f *testing.F) {
	f.Add("services:\n  app:\n    healthcheck:\n      test: [CMD, curl]\n", "app", "healthcheck.test")
	f.Add("x: &a {healthcheck: {test: x}}\nservices:\n  app:\n    <<: *a\n", "app", "healthcheck.test")
	f.Add("services:\n  web:\n    depends_on: [db, 'api']\n", "web", "depends_on.api")
	f.Add("services: !!binary aGVsbG8=\n", "", "")
	f.Add("a: &x [*x]\n", "a", "a")
	f.Add("include: [compose.yaml]\nservices:\n  a:\n    extends: a\n", "a", "image")
	f.Add("services:\n  a:\n    extends: {file: compose.yaml, service: b}\n  b:\n    image: x\n", "a", "image")
	f.Fuzz(func(t *testing.T, src, service, path string) {
		file := filepath.Join(t.TempDir(), "compose.yaml")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		srcs, err := walkSources([]string{file}, filepath.Dir(file), types.Mapping{})
		if err != nil {
			return // a refused include or extends (a device, a remote)
		}
		p := &Project{sources: srcs}
		got, line, col := p.Locate(service, [][]string{strings.Split(path, "."), {"image"}})
		if got == "" {
			if line != 0 || col != 0 {
				t.Fatalf("no file but position %d:%d", line, col)
			}
			return
		}
		if got != file {
			// From an included or extended file: it must exist.
			if _, err := os.Stat(got); err != nil || line < 1 || col < 1 {
				t.Fatalf("Locate = %s:%d:%d: %v", got, line, col, err)
			}
			return
		}
		lines := strings.Count(src, "\n") + 1
		if line < 1 || line > lines || col < 1 {
			t.Fatalf("Locate = %s:%d:%d for a %d-line file", got, line, col, lines)
		}
	})
}

package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLocate feeds arbitrary YAML to the position finder, which reads every
// compose file a second time to point at lines: it must never panic, and
// an answer must be inside the file.
func FuzzLocate(f *testing.F) {
	f.Add("services:\n  app:\n    healthcheck:\n      test: [CMD, curl]\n", "app", "healthcheck.test")
	f.Add("x: &a {healthcheck: {test: x}}\nservices:\n  app:\n    <<: *a\n", "app", "healthcheck.test")
	f.Add("services:\n  web:\n    depends_on: [db, 'api']\n", "web", "depends_on.api")
	f.Add("services: !!binary aGVsbG8=\n", "", "")
	f.Add("a: &x [*x]\n", "a", "a")
	f.Fuzz(func(t *testing.T, src, service, path string) {
		file := filepath.Join(t.TempDir(), "compose.yaml")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		p := &Project{positions: parsePositions([]string{file})}
		got, line, col := p.Locate(service, [][]string{strings.Split(path, "."), {"image"}})
		if got == "" {
			if line != 0 || col != 0 {
				t.Fatalf("no file but position %d:%d", line, col)
			}
			return
		}
		lines := strings.Count(src, "\n") + 1
		if got != file || line < 1 || line > lines || col < 1 {
			t.Fatalf("Locate = %s:%d:%d for a %d-line file", got, line, col, lines)
		}
	})
}

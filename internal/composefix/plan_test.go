package composefix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/check"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// writeFile writes a compose file into dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func finding(file string, actions ...policy.Action) check.Finding {
	return check.Finding{File: file, Fix: policy.Fix{Actions: actions}}
}

// checkSkipped compares the skipped actions' files and reasons, in order;
// a reason is matched as a substring.
func checkSkipped(t *testing.T, got []FileSkipped, want ...FileSkipped) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("skipped %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i].File != want[i].File || !strings.Contains(got[i].Reason, want[i].Reason) {
			t.Errorf("skipped[%d] = %s: %q, want %s: %q", i, got[i].File, got[i].Reason, want[i].File, want[i].Reason)
		}
	}
}

// The app's healthcheck is in the override file and the service waiting
// for it in the base file: the sidecar goes into the override, and only then
// is the base file's depends_on repointed, although the base file comes
// first.
func TestPlanAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	base := writeFile(t, dir, "compose.yaml", `services:
  api:
    image: dhi.io/node:25-debian13-sfw-ent-dev
  web:
    image: nginx
    depends_on:
      api:
        condition: service_healthy # wait for it
`)
	override := writeFile(t, dir, "compose.override.yaml", `services:
  api:
    ports: ["8080:8080"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
`)
	findings := []check.Finding{
		finding(base, repoint("web", "api", "api-health")),
		finding(override, bare("api")),
	}
	res, err := Plan(findings, []string{"api", "web"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 2 || len(res.Skipped) != 0 {
		t.Errorf("applied %d, skipped %+v; want 2 applied, none skipped", res.Applied, res.Skipped)
	}
	want := []Change{
		{File: base, New: []byte(`services:
  api:
    image: dhi.io/node:25-debian13-sfw-ent-dev
  web:
    image: nginx
    depends_on:
      api-health:
        condition: service_healthy # wait for it
`)},
		{File: override, New: []byte(`services:
  api:
    ports: ["8080:8080"]

` + bareBlock("api"))},
	}
	if len(res.Changes) != len(want) {
		t.Fatalf("changes in %d files, want %d: %+v", len(res.Changes), len(want), res.Changes)
	}
	for i, c := range res.Changes {
		old, _ := os.ReadFile(want[i].File)
		if c.File != want[i].File || string(c.Old) != string(old) || string(c.New) != string(want[i].New) {
			t.Errorf("change %d in %s, want %s:\n%s", i, c.File, want[i].File, Diff(c.File, want[i].New, c.New))
		}
		if err := os.WriteFile(c.File, c.New, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	loadCompose(t, base, override)

	// Once written, the fix is done: nothing changes, nothing is left.
	res, err = Plan(findings, []string{"api", "api-health", "web"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 0 || len(res.Changes) != 0 || len(res.Skipped) != 0 {
		t.Errorf("second Plan = %+v, want nothing to do", res)
	}
}

// The same action reached through two findings is applied once, and counted
// once; it is applied again in another file.
func TestPlanDeduplicates(t *testing.T) {
	dir := t.TempDir()
	src := `services:
  api:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
`
	a := writeFile(t, dir, "a.yaml", src)
	b := writeFile(t, dir, "b.yaml", src)
	res, err := Plan([]check.Finding{
		finding(a, bare("api")),
		finding(a, bare("api"), repoint("web", "api", "api-health")),
		finding(b, bare("api")),
	}, []string{"api"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 2 {
		t.Errorf("applied %d, want 2 (one sidecar per file)", res.Applied)
	}
	checkSkipped(t, res.Skipped, FileSkipped{File: a, Skipped: Skipped{Reason: `service "web" is not defined in this file`}})
	if len(res.Changes) != 2 || res.Changes[0].File != a || res.Changes[1].File != b {
		t.Fatalf("changes %+v, want a.yaml then b.yaml", res.Changes)
	}
	for _, c := range res.Changes {
		if n := strings.Count(string(c.New), "api-health:"); n != 1 {
			t.Errorf("%s has %d sidecars:\n%s", c.File, n, c.New)
		}
	}
}

// A depends_on is not repointed to a sidecar that could not be added: the
// project would refer to a service that does not exist.
func TestPlanRepointNeedsTheSidecar(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "compose.yaml", `services:
  api: {image: dhi.io/node:25-debian13-sfw-ent-dev, healthcheck: {test: [CMD, curl, -f, "http://localhost:3000/health"]}}
  web:
    image: nginx
    depends_on: [api]
`)
	res, err := Plan([]check.Finding{
		finding(file, bare("api")),
		finding(file, repoint("web", "api", "api-health")),
	}, []string{"api", "web"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 0 || len(res.Changes) != 0 {
		t.Errorf("applied %d, changes %+v; want none", res.Applied, res.Changes)
	}
	checkSkipped(t, res.Skipped,
		FileSkipped{File: file, Skipped: Skipped{Reason: `service "api" is a flow mapping`}},
		FileSkipped{File: file, Skipped: Skipped{Reason: `service "web" would wait for "api-health", which does not exist (add the sidecar first)`}},
	)
	if a := res.Skipped[1].Action; a.Op != policy.ActionRepointDependsOn || a.Service != "web" {
		t.Errorf("skipped action %+v, want the repoint", a)
	}
}

// A sidecar the project already has, in a file without findings, is a
// valid target.
func TestPlanRepointsToAnExistingService(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "compose.yaml", `services:
  web:
    image: nginx
    depends_on: [api]
`)
	res, err := Plan([]check.Finding{finding(file, repoint("web", "api", "api-health"))}, []string{"api", "api-health", "web"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 1 || len(res.Skipped) != 0 || len(res.Changes) != 1 ||
		!strings.Contains(string(res.Changes[0].New), "depends_on: [api-health]") {
		t.Errorf("Plan = %+v, want the repoint applied", res)
	}
}

func TestPlanNothingToDo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	// Findings without actions read no file.
	res, err := Plan([]check.Finding{{File: missing}}, nil)
	if err != nil || res.Applied != 0 || len(res.Changes) != 0 || len(res.Skipped) != 0 {
		t.Errorf("Plan = %+v, %v; want an empty result", res, err)
	}
}

func TestPlanFileErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "compose.yaml", "services:\n  api:\n    image: x\n")
	for name, file := range map[string]string{
		"missing":  filepath.Join(dir, "missing.yaml"),
		"not YAML": writeFile(t, dir, "broken.yaml", "services: [\n"),
	} {
		res, err := Plan([]check.Finding{finding(good, bare("api")), finding(file, bare("api"))}, []string{"api"})
		if err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: Plan = %+v, %v; want an error naming %s", name, res, err, file)
		}
	}
}

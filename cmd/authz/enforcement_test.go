package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
)

// shopProject writes a project "shop" whose services api and worker both
// run curl in an image without it (HA002), and returns its directory.
func shopProject(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	svc := func(name string) string {
		return "  " + name + ":\n    image: dhi.io/node:25-debian13-sfw-ent-dev\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:3000/health\"]\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n"+svc("api")+svc("worker")), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const apiException = `exceptions:
  - rules: [HA002]
    image: dhi.io/node
    compose_project: shop
    compose_service: api
    reason: probe moves to a sidecar in SHOP-142
    owner: team-shop
    expires: 2099-01-01
`

func TestCheckExceptionsSkipOneService(t *testing.T) {
	dir := shopProject(t)
	exc := writeFile(t, "exceptions.yaml", apiException)

	stdout, stderr, code := run(t, "check", "--no-daemon", "--exceptions", exc, dir)
	if code != 1 {
		t.Fatalf("worker still fails: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "  skipped  HA002  api: ") ||
		!strings.Contains(stdout, "(exception: probe moves to a sidecar in SHOP-142; owner team-shop; expires 2099-01-01)") ||
		!strings.Contains(stdout, "  error    HA002  worker: ") ||
		!strings.Contains(stdout, "1 error, 1 skipped in 2 services") {
		t.Errorf("text report:\n%s", stdout)
	}

	stdout, _, _ = run(t, "check", "--no-daemon", "--format", "json", "--exceptions", exc, dir)
	r := jsonReport(t, stdout)
	if r.Summary.Errors != 1 || r.Summary.Skipped != 1 || len(r.Findings) != 2 {
		t.Fatalf("summary %+v, %d findings", r.Summary, len(r.Findings))
	}
	for _, f := range r.Findings {
		switch f.Service {
		case "api":
			if !f.Skipped || f.Exception == nil || f.Exception.Reason != "probe moves to a sidecar in SHOP-142" || f.Exception.Owner != "team-shop" || f.Exception.Line != 2 || f.Exception.File != exc {
				t.Errorf("api: %+v %+v", f, f.Exception)
			}
		case "worker":
			if f.Skipped || f.Exception != nil {
				t.Errorf("worker: %+v", f)
			}
		}
	}
	var raw map[string]any
	json.Unmarshal([]byte(stdout), &raw)
	if worker := raw["findings"].([]any)[1].(map[string]any); worker["service"] != "worker" || worker["skipped"] != nil || worker["exception"] != nil {
		t.Errorf("a finding that is not skipped carries the keys: %v", worker)
	}

	stdout, _, code = run(t, "check", "--no-daemon", "--format", "sarif", "--exceptions", exc, dir)
	if code != 1 {
		t.Errorf("sarif: exit %d", code)
	}
	rep, err := sarif.FromString(stdout)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Validate(); err != nil {
		t.Errorf("SARIF schema: %v", err)
	}
	suppressed := 0
	for _, res := range rep.Runs[0].Results {
		for _, s := range res.Suppressions {
			suppressed++
			if *s.Kind != "external" || *s.Justification != "exception: probe moves to a sidecar in SHOP-142; owner team-shop; expires 2099-01-01" {
				t.Errorf("suppression %q %q", *s.Kind, *s.Justification)
			}
		}
	}
	if suppressed != 1 || len(rep.Runs[0].Results) != 2 {
		t.Errorf("%d suppressions in %d results, want 1 in 2", suppressed, len(rep.Runs[0].Results))
	}

	stdout, _, _ = run(t, "check", "--no-daemon", "--format", "junit", "--exceptions", exc, dir)
	if !strings.Contains(stdout, `skipped="1"`) || !strings.Contains(stdout, `<skipped message="exception: probe moves to a sidecar in SHOP-142; owner team-shop; expires 2099-01-01"></skipped>`) || !strings.Contains(stdout, `failures="1"`) {
		t.Errorf("junit:\n%s", stdout)
	}
	stdout, _, _ = run(t, "check", "--no-daemon", "--format", "github", "--exceptions", exc, dir)
	if !strings.Contains(stdout, "::notice file=") || !strings.Contains(stdout, "%0ASkipped by exception: probe moves") || strings.Count(stdout, "::error ") != 1 {
		t.Errorf("github:\n%s", stdout)
	}
}

func TestCheckOnlySkippedFindingsExitZero(t *testing.T) {
	dir := shopProject(t)
	exc := writeFile(t, "exceptions.json", `{"exceptions": [{"rules": ["HA002"], "compose_project": "shop", "reason": "accepted"}]}`)
	stdout, stderr, code := run(t, "check", "--no-daemon", "--exceptions", exc, dir)
	if code != 0 || !strings.Contains(stdout, "no problems, 2 skipped in 2 services") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestCheckModes(t *testing.T) {
	dir := shopProject(t)
	for _, mode := range []string{"warn", "dryrun"} {
		stdout, stderr, code := run(t, "check", "--no-daemon", "--format", "json", "--mode", mode, dir)
		if code != 0 {
			t.Errorf("--mode %s: exit %d\n%s", mode, code, stderr)
			continue
		}
		r := jsonReport(t, stdout)
		if r.Summary.Errors != 0 || r.Summary.Warnings != 2 {
			t.Errorf("--mode %s: %+v", mode, r.Summary)
		}
		for _, f := range r.Findings {
			if !f.Demoted || f.Severity != "warning" {
				t.Errorf("--mode %s: %+v", mode, f)
			}
		}
	}
	stdout, _, code := run(t, "check", "--no-daemon", "--mode", "warn", dir)
	if code != 0 || !strings.Contains(stdout, "note: a deny, reported as a warning") {
		t.Errorf("text: exit %d\n%s", code, stdout)
	}
	if _, stderr, code := run(t, "check", "--no-daemon", "--mode", "audit", dir); code != 2 || !strings.Contains(stderr, `--mode "audit"`) {
		t.Errorf("unknown mode: exit %d %s", code, stderr)
	}
}

func TestCheckExpiredException(t *testing.T) {
	dir := shopProject(t)
	exc := writeFile(t, "exceptions.yaml", "exceptions:\n  - rules: [HA002]\n    compose_service: api\n    reason: ran out\n    expires: 2020-01-01\n")
	stdout, stderr, code := run(t, "check", "--no-daemon", "--format", "json", "--exceptions", exc, dir)
	if code != 1 || !strings.Contains(stderr, "authz: warning: "+exc+":2: exception 1 (HA002) expired 2020-01-01") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	r := jsonReport(t, stdout)
	if r.Summary.Errors != 2 || r.Summary.Skipped != 0 {
		t.Errorf("an expired exception still applies: %+v", r.Summary)
	}
	for _, f := range r.Findings {
		if want := f.Service == "api"; want != (len(f.Notes) == 1 && strings.Contains(f.Notes[0], "expired 2020-01-01: ran out")) {
			t.Errorf("%s: notes %q", f.Service, f.Notes)
		}
	}
}

func TestCheckMalformedExceptionsAreUsageErrors(t *testing.T) {
	dir := shopProject(t)
	exc := writeFile(t, "exceptions.yaml", "exceptions:\n  - rules: [HA002]\n    service: api\n    reason: r\n")
	_, stderr, code := run(t, "check", "--no-daemon", "--exceptions", exc, dir)
	if code != 2 || !strings.Contains(stderr, exc+":3:5: exceptions[0].service: unknown key") {
		t.Errorf("exit %d %s", code, stderr)
	}
}

func TestCheckRuleOff(t *testing.T) {
	dir := shopProject(t)
	pol := t.TempDir()
	if err := os.Mkdir(filepath.Join(pol, "enforcement"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pol, "enforcement", "data.json"), []byte(`{"rules": {"HA002": "off"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, "check", "--no-daemon", "--format", "json", "--policy", pol, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if r := jsonReport(t, stdout); len(r.Findings) != 0 || r.Summary.Off != 2 {
		t.Errorf("%+v", r)
	}
	if err := os.WriteFile(filepath.Join(pol, "enforcement", "data.json"), []byte(`{"rules": {"HA002": "silent"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "check", "--no-daemon", "--policy", pol, dir); code != 2 || !strings.Contains(stderr, `data.enforcement.rules["HA002"] = silent`) {
		t.Errorf("a bad rule mode: exit %d %s", code, stderr)
	}
}

func TestServeRefusesABadModeOrExceptionsFile(t *testing.T) {
	if _, stderr, code := run(t, "serve", "--socket", filepath.Join(t.TempDir(), "s.sock"), "--mode", "audit"); code != 2 || !strings.Contains(stderr, `--mode "audit": want one of enforce, warn, dryrun`) {
		t.Errorf("--mode audit: exit %d %s", code, stderr)
	}
	exc := writeFile(t, "exceptions.yaml", "exceptions:\n  - rules: [HA002]\n    image: dhi.io/node\n    reason: r\n    expires: tomorrow\n")
	if _, stderr, code := run(t, "serve", "--socket", filepath.Join(t.TempDir(), "s.sock"), "--exceptions", exc); code != 2 || !strings.Contains(stderr, exc+`:5:14: exceptions[0].expires: "tomorrow" is not a date`) {
		t.Errorf("bad exceptions: exit %d %s", code, stderr)
	}
}

func TestCheckContainerSelectorMatchesComposeNames(t *testing.T) {
	dir := shopProject(t)
	exc := writeFile(t, "exceptions.yaml", "exceptions:\n  - {rules: [HA002], container: shop-worker-1, reason: r}\n")
	stdout, _, code := run(t, "check", "--no-daemon", "--format", "json", "--exceptions", exc, dir)
	r := jsonReport(t, stdout)
	if code != 1 || r.Summary.Skipped != 1 || r.Summary.Errors != 1 {
		t.Fatalf("exit %d, %+v", code, r.Summary)
	}
	for _, f := range r.Findings {
		if f.Skipped != (f.Service == "worker") {
			t.Errorf("%s: skipped=%v", f.Service, f.Skipped)
		}
	}
	exc = writeFile(t, "exceptions.yaml", "exceptions:\n  - {rules: [HA002], container: shop_api, reason: r}\n")
	stdout, _, _ = run(t, "check", "--no-daemon", "--format", "json", "--target", "stack", "--exceptions", exc, dir)
	if r := jsonReport(t, stdout); r.Summary.Skipped != 1 {
		t.Errorf("--target stack: the swarm service's name: %+v", r.Summary)
	}
}

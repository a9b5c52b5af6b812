package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/hardened-authz/hardened-authz/internal/check"
)

// enforcedFixture is fixture with its HA002 skipped by an exception, its
// HA001 demoted to a warning, and a note on the HA008.
func enforcedFixture(base string) check.Report {
	r := fixture(base)
	for i := range r.Findings {
		f := &r.Findings[i]
		switch f.Rule {
		case "HA002":
			f.Skipped = true
			f.Exception = &check.Exception{File: "exceptions.yaml", Line: 3, Reason: "tracked in WEB-7", Owner: "team-web", Expires: "2027-03-01"}
		case "HA001":
			f.Severity, f.Demoted = check.SeverityWarning, true
		case "HA008":
			f.Notes = []string{"exception 2 (line 9) expired 2026-01-01: old"}
		}
	}
	r.Summary = check.Summarize(r.Findings, r.Summary)
	return r
}

const exceptionWords = "exception: tracked in WEB-7; owner team-web; expires 2027-03-01"

func TestEnforcementText(t *testing.T) {
	out := render(t, "text", enforcedFixture(t.TempDir()), Options{})
	for _, want := range []string{
		"  12:7  skipped  HA002  web: service \"web\": image dhi.io/nginx:1 has no \"curl\" (" + exceptionWords + ")\n  30  warning  HA001",
		"    note: a deny, reported as a warning by the enforcement mode",
		"    note: exception 2 (line 9) expired 2026-01-01: old",
		"\n2 warnings, 1 skipped in 4 services",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Move the probe") {
		t.Errorf("a skipped finding's fix is shown:\n%s", out)
	}
}

func TestEnforcementJSON(t *testing.T) {
	var r struct {
		Findings []map[string]any `json:"findings"`
		Summary  map[string]any   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(render(t, "json", enforcedFixture(t.TempDir()), Options{})), &r); err != nil {
		t.Fatal(err)
	}
	if r.Summary["skipped"] != 1.0 || r.Summary["errors"] != 0.0 || r.Summary["warnings"] != 2.0 {
		t.Errorf("summary %v", r.Summary)
	}
	for _, f := range r.Findings {
		switch f["rule"] {
		case "HA002":
			e, _ := f["exception"].(map[string]any)
			if f["skipped"] != true || e["reason"] != "tracked in WEB-7" || e["owner"] != "team-web" || e["expires"] != "2027-03-01" || e["file"] != "exceptions.yaml" || e["line"] != 3.0 {
				t.Errorf("skipped: %v", f)
			}
		case "HA001":
			if f["demoted"] != true || f["severity"] != "warning" {
				t.Errorf("demoted: %v", f)
			}
		}
	}
}

func TestEnforcementSARIF(t *testing.T) {
	out := render(t, "sarif", enforcedFixture(t.TempDir()), Options{})
	parseSARIF(t, out) // schema-valid
	rep, err := sarif.FromString(out)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, res := range rep.Runs[0].Results {
		if len(res.Suppressions) == 0 {
			continue
		}
		n++
		s := res.Suppressions[0]
		if *res.RuleID != "HA002" || *s.Kind != "external" || *s.Status != "accepted" || *s.Justification != exceptionWords {
			t.Errorf("suppression on %s: %q %q %q", *res.RuleID, *s.Kind, *s.Status, *s.Justification)
		}
	}
	if n != 1 {
		t.Errorf("%d suppressed results, want 1", n)
	}
}

func TestEnforcementJUnitAndGitHub(t *testing.T) {
	base := t.TempDir()
	j := parseJUnit(t, render(t, "junit", enforcedFixture(base), Options{BaseDir: base}))
	if j.Failures != 0 {
		t.Errorf("failures = %d: a skipped or demoted finding fails the build", j.Failures)
	}
	out := render(t, "junit", enforcedFixture(base), Options{BaseDir: base})
	if !strings.Contains(out, `skipped="1"`) || !strings.Contains(out, `<skipped message="`+exceptionWords+`"></skipped>`) {
		t.Errorf("junit:\n%s", out)
	}
	gh := render(t, "github", enforcedFixture(base), Options{BaseDir: base})
	if !strings.Contains(gh, "::notice file=compose.yaml,line=12,col=7,title=HA002 ") || strings.Contains(gh, "::error") ||
		!strings.Contains(gh, "%0ASkipped by "+exceptionWords) {
		t.Errorf("github:\n%s", gh)
	}
}

package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/hardened-authz/hardened-authz/internal/check"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// sarifLog is the part of SARIF that GitHub code scanning reads.
type sarifLog struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name           string `json:"name"`
				InformationURI string `json:"informationUri"`
				Version        string `json:"version"`
				Rules          []struct {
					ID               string `json:"id"`
					Name             string `json:"name"`
					ShortDescription struct {
						Text string `json:"text"`
					} `json:"shortDescription"`
					Help struct {
						Text     string `json:"text"`
						Markdown string `json:"markdown"`
					} `json:"help"`
					HelpURI              string `json:"helpUri"`
					DefaultConfiguration struct {
						Level string `json:"level"`
					} `json:"defaultConfiguration"`
					Properties struct {
						Tags []string `json:"tags"`
					} `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		OriginalURIBaseIDs map[string]struct {
			URI string `json:"uri"`
		} `json:"originalUriBaseIds"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Region struct {
						StartLine   int `json:"startLine"`
						StartColumn int `json:"startColumn"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
		} `json:"results"`
	} `json:"runs"`
}

func parseSARIF(t *testing.T, out string) sarifLog {
	t.Helper()
	var log sarifLog
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatalf("SARIF is not JSON: %v\n%s", err, out)
	}
	// The library's own check against the SARIF 2.1.0 JSON schema.
	rep, err := sarif.FromString(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Validate(); err != nil {
		t.Errorf("SARIF schema: %v", err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif-schema-2.1.0.json") {
		t.Errorf("version %q, $schema %q", log.Version, log.Schema)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("want one run, got %d", len(log.Runs))
	}
	d := log.Runs[0].Tool.Driver
	if d.Name != "hardened-authz" || d.InformationURI != "https://github.com/hardened-authz/hardened-authz" {
		t.Errorf("driver = %q, %q", d.Name, d.InformationURI)
	}
	if !strings.HasSuffix(out, "}\n") {
		t.Error("no trailing newline")
	}
	return log
}

func TestSARIF(t *testing.T) {
	base := t.TempDir()
	r := fixture(base)
	// Another HA002, to check rules stay one per ID.
	again := r.Findings[1]
	again.Service, again.Line = "api", 40
	// One outside the base, one the checker could not place.
	// "/0-outside" sorts before the temporary directory.
	outside := filepath.Join(filepath.VolumeName(base)+string(filepath.Separator), "0-outside", "other dir", "compose.yaml")
	r.Findings = append(r.Findings, again,
		check.Finding{Rule: "HA003", Severity: "error", Title: "sidecar probes localhost", Service: "x", File: outside, Message: "m"},
		check.Finding{Rule: "HA007", Severity: "warning", Service: "y", Message: "no file"},
	)
	log := parseSARIF(t, render(t, "sarif", r, Options{BaseDir: base, Version: "1.2.3"}))
	run := log.Runs[0]
	if got := run.Tool.Driver.Version; got != "1.2.3" {
		t.Errorf("driver version = %q", got)
	}
	if got := run.OriginalURIBaseIDs["%SRCROOT%"].URI; got != "file://"+filepath.ToSlash(base)+"/" {
		t.Errorf("%%SRCROOT%% = %q", got)
	}

	rules := run.Tool.Driver.Rules
	var ids []string
	for _, rule := range rules {
		ids = append(ids, rule.ID+"/"+rule.DefaultConfiguration.Level)
	}
	if got, want := strings.Join(ids, " "), "HA001/error HA002/error HA003/error HA007/warning HA008/warning"; got != want {
		t.Errorf("rules = %s, want %s", got, want)
	}
	ha002 := rules[1]
	if ha002.Name != "HealthcheckProgramMissingFromTheImage" ||
		ha002.ShortDescription.Text != "healthcheck program missing from the image" ||
		ha002.HelpURI != "https://github.com/hardened-authz/hardened-authz/blob/main/docs/rules.md#ha002" {
		t.Errorf("HA002 descriptor: %+v", ha002)
	}
	// The first HA002 in file order is service "web".
	if !strings.Contains(ha002.Help.Text, `Move the probe into a curl sidecar for service "web".`) ||
		!strings.Contains(ha002.Help.Markdown, "```yaml\nweb-health:\n  image: dhi.io/curl:8-debian13-dev\n") {
		t.Errorf("HA002 help: %+v", ha002.Help)
	}
	if got := strings.Join(ha002.Properties.Tags, ","); got != "docker,compose,healthcheck" {
		t.Errorf("tags = %s", got)
	}
	if rules[3].Name != "HA007" || rules[3].ShortDescription.Text != "HA007" {
		t.Errorf("untitled rule named %q, %q", rules[3].Name, rules[3].ShortDescription.Text)
	}

	type want struct {
		rule, level, uri, base string
		line, col              int
	}
	wants := []want{
		{"HA007", "warning", "", "", 0, 0},
		{"HA003", "error", "file:///0-outside/other%20dir/compose.yaml", "", 1, 0},
		{"HA002", "error", "compose.yaml", "%SRCROOT%", 12, 7},
		{"HA001", "error", "compose.yaml", "%SRCROOT%", 30, 0},
		{"HA002", "error", "compose.yaml", "%SRCROOT%", 40, 7},
		{"HA008", "warning", "deploy/compose.prod.yaml", "%SRCROOT%", 20, 5},
	}
	if len(run.Results) != len(wants) {
		t.Fatalf("got %d results, want %d", len(run.Results), len(wants))
	}
	for i, w := range wants {
		res := run.Results[i]
		if res.RuleID != w.rule || res.Level != w.level {
			t.Errorf("result %d: %s/%s, want %s/%s", i, res.RuleID, res.Level, w.rule, w.level)
		}
		if res.RuleIndex < 0 || res.RuleIndex >= len(rules) || rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %d: ruleIndex %d does not point at %s", i, res.RuleIndex, res.RuleID)
		}
		if w.uri == "" {
			if len(res.Locations) != 0 {
				t.Errorf("result %d: a finding without a file got locations %+v", i, res.Locations)
			}
			continue
		}
		if len(res.Locations) != 1 {
			t.Fatalf("result %d: %d locations", i, len(res.Locations))
		}
		pl := res.Locations[0].PhysicalLocation
		if pl.ArtifactLocation.URI != w.uri || pl.ArtifactLocation.URIBaseID != w.base {
			t.Errorf("result %d: uri %q base %q, want %q %q", i, pl.ArtifactLocation.URI, pl.ArtifactLocation.URIBaseID, w.uri, w.base)
		}
		if pl.Region.StartLine != w.line || pl.Region.StartColumn != w.col {
			t.Errorf("result %d: region %d:%d, want %d:%d", i, pl.Region.StartLine, pl.Region.StartColumn, w.line, w.col)
		}
	}
	if got := run.Results[2].Message.Text; got != `HA002: service "web": image dhi.io/nginx:1 has no "curl"`+"\nFix: "+`Move the probe into a curl sidecar for service "web".` {
		t.Errorf("message = %q", got)
	}
}

func TestSARIFEmpty(t *testing.T) {
	out := render(t, "sarif", check.Report{}, Options{})
	log := parseSARIF(t, out)
	if n := len(log.Runs[0].Tool.Driver.Rules); n != 0 {
		t.Errorf("%d rules", n)
	}
	// GitHub needs the results array even when it is empty.
	if !strings.Contains(out, `"results": []`) {
		t.Errorf("no empty results array:\n%s", out)
	}
	if strings.Contains(out, `"version": ""`) || strings.Contains(out, "originalUriBaseIds") {
		t.Errorf("empty version or base leaked into the log:\n%s", out)
	}
}

type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func parseJUnit(t *testing.T, out string) junitDoc {
	t.Helper()
	if !strings.HasPrefix(out, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML declaration:\n%.200s", out)
	}
	var doc junitDoc
	dec := xml.NewDecoder(strings.NewReader(out))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("JUnit is not XML: %v", err)
	}
	return doc
}

func TestJUnit(t *testing.T) {
	base := t.TempDir()
	r := fixture(base)
	doc := parseJUnit(t, render(t, "junit", r, Options{BaseDir: base}))
	if doc.Name != "authz check" || doc.Tests != 3 || doc.Failures != 2 {
		t.Errorf("testsuites: name %q tests %d failures %d", doc.Name, doc.Tests, doc.Failures)
	}
	if len(doc.Suites) != 2 {
		t.Fatalf("want a suite per file, got %d", len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Name != "compose.yaml" || s.Tests != 2 || s.Failures != 2 {
		t.Errorf("suite 0: %q tests %d failures %d", s.Name, s.Tests, s.Failures)
	}
	c := s.Cases[0]
	if c.Name != "HA002 web" || c.Classname != "compose.yaml" || c.Failure == nil {
		t.Fatalf("case 0: %+v", c)
	}
	if c.Failure.Type != "HA002" || c.Failure.Message != `HA002: service "web": image dhi.io/nginx:1 has no "curl"` {
		t.Errorf("failure: %+v", c.Failure)
	}
	for _, want := range []string{
		`Fix: Move the probe into a curl sidecar for service "web".`,
		"\nweb-health:\n  image: dhi.io/curl:8-debian13-dev\n  network_mode: \"service:web\"\n",
		"Or: Use the -dev variant of the image.",
		"At: 12:7",
	} {
		if !strings.Contains(c.Failure.Body, want) {
			t.Errorf("failure body lacks %q:\n%s", want, c.Failure.Body)
		}
	}
	w := doc.Suites[1]
	if w.Name != "deploy/compose.prod.yaml" || w.Tests != 1 || w.Failures != 0 {
		t.Errorf("suite 1: %q tests %d failures %d", w.Name, w.Tests, w.Failures)
	}
	if wc := w.Cases[0]; wc.Failure != nil || !strings.HasPrefix(wc.SystemOut, "warning: HA008: ") || !strings.Contains(wc.SystemOut, "Fix: Set mem_limit") {
		t.Errorf("a warning should pass with its text in system-out: %+v", wc)
	}
}

func TestJUnitFilelessFindingsUseTheProject(t *testing.T) {
	r := check.Report{Findings: []check.Finding{{Rule: "HA007", Severity: "warning", Project: "shop", Service: "s"}}}
	doc := parseJUnit(t, render(t, "junit", r, Options{}))
	if len(doc.Suites) != 1 || doc.Suites[0].Name != "shop" || doc.Suites[0].Cases[0].Classname != "shop" {
		t.Errorf("suites: %+v", doc.Suites)
	}
}

func TestJUnitEmpty(t *testing.T) {
	doc := parseJUnit(t, render(t, "junit", check.Report{}, Options{}))
	if doc.Tests != 1 || doc.Failures != 0 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 1 {
		t.Fatalf("want one passing test case, got %+v", doc)
	}
	if c := doc.Suites[0].Cases[0]; c.Name != "authz check" || c.Failure != nil {
		t.Errorf("case: %+v", c)
	}
}

// Text from compose files reaches the XML: control characters must not
// make it unparseable, and markup must stay text.
func TestJUnitHostileText(t *testing.T) {
	huge := strings.Repeat("x<&>\"]]>", 1<<17) // 1 MiB, with CDATA terminators
	msg := "bell\a nul\x00 esc\x1b[31m ]]> <b>&amp; \uFFFE bad\xff utf8 tab\tcr\r end"
	r := check.Report{Findings: []check.Finding{{
		Rule: "HA002", Severity: "error", Service: "we\x01b", File: "a\x02.yaml", Line: 1,
		Message: msg,
		Fix:     policy.Fix{Summary: huge, Compose: "x: ]]>\x00\n"},
	}, {
		Rule: "HA008", Severity: "warning", Service: "s", File: "a\x02.yaml",
		Message: "]]>\x1f", Fix: policy.Fix{Summary: "]]>"},
	}}}
	doc := parseJUnit(t, render(t, "junit", r, Options{}))
	// The warning has no line, so it sorts first.
	c := doc.Suites[0].Cases[1]
	if doc.Suites[0].Name != "a.yaml" || c.Name != "HA002 web" {
		t.Errorf("names: %q %q", doc.Suites[0].Name, c.Name)
	}
	wantMsg := "bell nul esc[31m ]]> <b>&amp;  bad\uFFFD utf8 tab\tcr\r end"
	if c.Failure.Message != wantMsg {
		t.Errorf("message = %q, want %q", c.Failure.Message, wantMsg)
	}
	if !strings.Contains(c.Failure.Body, "Fix: "+huge) || !strings.Contains(c.Failure.Body, "x: ]]>\n") {
		t.Errorf("failure body lost text (%d bytes)", len(c.Failure.Body))
	}
	if got := doc.Suites[0].Cases[0].SystemOut; !strings.Contains(got, "]]>\nService: s") {
		t.Errorf("system-out = %q", got)
	}
}

func TestGitHub(t *testing.T) {
	base := t.TempDir()
	r := fixture(base)
	out := render(t, "github", r, Options{BaseDir: base})
	want := `::error file=compose.yaml,line=12,col=7,title=HA002 healthcheck program missing from the image::HA002: service "web": image dhi.io/nginx:1 has no "curl"%0AFix: Move the probe into a curl sidecar for service "web".` + "\n" +
		`::error file=compose.yaml,line=30,title=HA001 CMD-SHELL healthcheck in an image without a shell::HA001: service "db": CMD-SHELL healthcheck, image has no shell%0AFix: Rewrite the healthcheck in exec form.` + "\n" +
		`::warning file=deploy/compose.prod.yaml,line=20,col=5,title=HA008 sidecar without a memory limit::HA008: sidecar "web-health" has no memory limit%0AFix: Set mem_limit on the sidecar.` + "\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestGitHubEscaping(t *testing.T) {
	r := check.Report{Findings: []check.Finding{{
		Rule: "HA002", Severity: "error", Title: "50%, a: b",
		File:    "dir,x/a:b%c.yaml",
		Message: "100% broken\r\n::error::injected",
		Fix:     policy.Fix{Summary: "a, b: c"},
	}, {
		Rule: "HA008", Severity: "warning", Message: "no file, no line", Line: 0, Column: 3,
	}}}
	out := render(t, "github", r, Options{})
	want := "::warning title=HA008::no file, no line\n" +
		"::error file=dir%2Cx/a%3Ab%25c.yaml,title=HA002 50%25%2C a%3A b::100%25 broken%0D%0A::error::injected%0AFix: a, b: c\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// Each finding is exactly one command line.
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("%d lines", n)
	}
	if out := render(t, "github", check.Report{}, Options{}); out != "" {
		t.Errorf("empty report wrote %q", out)
	}
}

func TestText(t *testing.T) {
	base := t.TempDir()
	r := fixture(base)
	out := render(t, "text", r, Options{BaseDir: base})
	want := `compose.yaml
  12:7  error    HA002  web: service "web": image dhi.io/nginx:1 has no "curl"
    fix: Move the probe into a curl sidecar for service "web".
      web-health:
        image: dhi.io/curl:8-debian13-dev
        network_mode: "service:web"
    or: Use the -dev variant of the image.
  30  error    HA001  db: service "db": CMD-SHELL healthcheck, image has no shell
    fix: Rewrite the healthcheck in exec form.

deploy/compose.prod.yaml
  20:5  warning  HA008  web-health: sidecar "web-health" has no memory limit
    fix: Set mem_limit on the sidecar.
      web-health:
        mem_limit: 32m

2 errors, 1 warning in 4 services (1 project, 2 files)
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if strings.Contains(out, "\x1b") {
		t.Error("colour without Options.Color")
	}
}

func TestTextColor(t *testing.T) {
	r := fixture("/src")
	out := render(t, "text", r, Options{Color: true})
	for _, want := range []string{
		"\x1b[31merror  \x1b[0m  HA002",
		"\x1b[33mwarning\x1b[0m  HA008",
		"\x1b[2m    fix: Rewrite the healthcheck in exec form.\x1b[0m\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	// Stripped of colour, it is the plain report.
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(out, "")
	if plain != render(t, "text", r, Options{}) {
		t.Errorf("coloured text differs from plain text beyond the colour:\n%s", plain)
	}
}

func TestTextSummaries(t *testing.T) {
	for _, c := range []struct {
		r    check.Report
		want string
	}{
		{check.Report{Summary: check.Summary{Services: 3, Projects: 1, Files: 2}},
			"no problems in 3 services (1 project, 2 files)\n"},
		{check.Report{Summary: check.Summary{Services: 1, Projects: 2, Files: 1, Fixed: 2}},
			"no problems in 1 service (2 projects, 1 file); 2 fixes applied\n"},
		{check.Report{Summary: check.Summary{Fixed: 1}},
			"no problems in 0 services (0 projects, 0 files); 1 fix applied\n"},
	} {
		if got := render(t, "text", c.r, Options{}); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	one := check.Report{
		Findings: []check.Finding{{Rule: "HA007", Severity: "warning", Project: "p", Service: "s", Message: "HA007: m"}},
		Summary:  check.Summary{Services: 1, Projects: 1},
	}
	want := "project p\n  -  warning  HA007  s: m\n\n1 warning in 1 service (1 project, 0 files)\n"
	if got := render(t, "text", one, Options{}); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Service names and messages come from compose files; they must not be
// able to send escape sequences to the terminal.
func TestTextSanitises(t *testing.T) {
	r := check.Report{Findings: []check.Finding{{
		Rule: "HA002", Severity: "error", File: "c\x1b]0;x\a.yaml", Service: "we\x1b[2Jb",
		Message: "line one\nline two\u202e", Fix: policy.Fix{Summary: "do\rthis"},
	}}}
	out := render(t, "text", r, Options{})
	if strings.ContainsAny(out, "\x1b\a\r\u202e") {
		t.Errorf("control characters reached the terminal: %q", out)
	}
	for _, want := range []string{`c\x1b]0;x\a.yaml`, `we\x1b[2Jb: line one` + "\n    line two" + `\u202e`, `fix: do\rthis`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in %q", want, out)
		}
	}
}

func TestEmptyReportEveryFormat(t *testing.T) {
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, format, check.Report{Findings: []check.Finding{}}, Options{}); err != nil {
			t.Errorf("%s: %v", format, err)
		}
		if format != "github" && !strings.HasSuffix(buf.String(), "\n") {
			t.Errorf("%s: no trailing newline", format)
		}
	}
}

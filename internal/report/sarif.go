package report

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/hardened-authz/hardened-authz/internal/check"
)

const (
	toolName = "hardened-authz"
	toolURI  = "https://github.com/hardened-authz/hardened-authz"
	// rulesDoc is where each rule's reportingDescriptor sends the reader.
	rulesDoc = toolURI + "/blob/main/docs/rules.md#"
	// srcRoot is the conventional base of relative artifact URIs, which
	// code-scanning services resolve to the repository checkout.
	srcRoot = "%SRCROOT%"
)

// ruleTags classify every rule in code-scanning dashboards: all rules
// `authz check` reports are about healthchecks in compose files.
var ruleTags = []string{"docker", "compose", "healthcheck"}

// writeSARIF writes a SARIF 2.1.0 log with one run: the shape GitHub code
// scanning and other SARIF viewers ingest.
func writeSARIF(buf *bytes.Buffer, r check.Report, p paths, version string) error {
	run := sarif.NewRunWithInformationURI(toolName, toolURI)
	if version != "" {
		run.Tool.Driver.WithVersion(version)
	}
	if b := p.baseURI(); b != "" {
		loc := sarif.NewArtifactLocation().WithURI(b)
		run.OriginalUriBaseIds = map[string]sarif.ArtifactLocation{srcRoot: *loc}
	}

	// The rule table comes first so results can point into it by index.
	// Findings are sorted, so the first finding of a rule, which supplies
	// its example fix, is the same on every run.
	first := map[string]check.Finding{}
	for _, f := range r.Findings {
		if _, ok := first[f.Rule]; !ok {
			first[f.Rule] = f
		}
	}
	ids := make([]string, 0, len(first))
	for id := range first {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		addRule(run, first[id])
	}

	for _, f := range r.Findings {
		res := run.CreateResultForRule(f.Rule).
			WithLevel(level(f)).
			WithMessage(sarif.NewTextMessage(messageWithFix(f)))
		if f.File != "" {
			res.AddLocation(sarif.NewLocationWithPhysicalLocation(physical(f, p)))
		}
		if f.Skipped && f.Exception != nil {
			// Suppressed outside the analysed files, by the operator's
			// exceptions file: code scanning shows it as dismissed with
			// the reason, instead of as an open alert.
			res.AddSuppression(sarif.NewSuppression().
				WithKind("external").
				WithStatus("accepted").
				WithJustification(exceptionText(f)))
		}
	}

	rep := sarif.NewReport()
	rep.AddRun(run)
	if err := rep.PrettyWrite(buf); err != nil {
		return err
	}
	buf.WriteByte('\n')
	return nil
}

// addRule describes rule f.Rule. Fix texts name the service they were
// written for, so the help says which finding its example comes from.
func addRule(run *sarif.Run, f check.Finding) {
	title := f.Title
	if title == "" {
		title = f.Rule
	}
	rule := run.AddRule(f.Rule).
		WithName(pascal(f.Title, f.Rule)).
		WithShortDescription(sarif.NewMultiformatMessageString().WithText(title)).
		WithHelpURI(rulesDoc + strings.ToLower(f.Rule)).
		WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(level(f))).
		WithProperties(sarif.NewPropertyBag().WithTags(slices.Clone(ruleTags)))
	if f.Fix.Summary == "" {
		return
	}
	intro := fmt.Sprintf("Fix (as given for service %q): ", f.Service)
	text := intro + f.Fix.Summary
	md := intro + f.Fix.Summary
	if c := strings.TrimRight(f.Fix.Compose, "\n"); c != "" {
		text += "\n\n" + c
		md += "\n\n```yaml\n" + c + "\n```"
	}
	if f.Fix.Alternative != "" {
		text += "\n\nOr: " + f.Fix.Alternative
		md += "\n\nOr: " + f.Fix.Alternative
	}
	rule.WithHelp(sarif.NewMultiformatMessageString().WithText(text).WithMarkdown(md))
}

// physical locates f in its compose file. SARIF regions need a start line;
// a finding the checker could not place points at the top of the file,
// which is where a reader starts looking anyway.
func physical(f check.Finding, p paths) *sarif.PhysicalLocation {
	uri, relative := p.uri(f.File)
	al := sarif.NewArtifactLocation().WithURI(uri)
	if relative {
		al.WithURIBaseID(srcRoot)
	}
	region := sarif.NewRegion().WithStartLine(max(f.Line, 1))
	if f.Line > 0 && f.Column > 0 {
		region.WithStartColumn(f.Column)
	}
	return sarif.NewPhysicalLocation().WithArtifactLocation(al).WithRegion(region)
}

// pascal turns a rule title into the reportingDescriptor name SARIF
// viewers show as an identifier ("CMD-SHELL healthcheck in an image
// without a shell" becomes "CmdShellHealthcheckInAnImageWithoutAShell"),
// or returns fallback when the title has no letters or digits.
func pascal(title, fallback string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		rs := []rune(strings.ToLower(w))
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	if b.Len() == 0 {
		return fallback
	}
	return b.String()
}

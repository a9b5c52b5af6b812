package report

import (
	"bytes"
	"encoding/xml"
	"strings"

	"github.com/hardened-authz/hardened-authz/internal/check"
)

// junitName names the document, and the passing test case of a clean run.
const junitName = "authz check"

// JUnit XML has no single standard; these are the elements and attributes
// that Jenkins, GitLab, Azure DevOps and the common GitHub test-report
// actions all read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr,omitempty"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr,omitempty"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

// junitSkipped marks a finding an exception accepted: dashboards show
// it as a skipped test, with the exception's reason.
type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// junitText is element text as CDATA, which keeps the newlines of a
// compose snippet readable in the raw file instead of escaping each one.
type junitText struct {
	Text string `xml:",cdata"`
}

// writeJUnit writes one test suite per compose file and one test case per
// finding. Errors are failures; warnings are passing cases that carry
// their text in system-out, so dashboards show them without failing the
// build, which is what a warning means to `authz check` too.
func writeJUnit(buf *bytes.Buffer, r check.Report, p paths) error {
	doc := junitSuites{Name: junitName}
	for _, g := range groups(r.Findings, p) {
		s := junitSuite{Name: xmlText(g.name)}
		for _, f := range g.findings {
			c := junitCase{
				Name:      xmlText(strings.TrimSpace(f.Rule + " " + f.Service)),
				Classname: s.Name,
			}
			switch {
			case f.Skipped:
				c.Skipped = &junitSkipped{Message: xmlText(exceptionText(f))}
				c.SystemOut = &junitText{xmlText("skipped: " + details(f))}
				s.Skipped++
			case f.IsWarning():
				c.SystemOut = &junitText{xmlText(level(f) + ": " + details(f))}
			default:
				c.Failure = &junitFailure{
					Message: xmlText(f.Message),
					Type:    xmlText(f.Rule),
					Body:    xmlText(details(f)),
				}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	if len(doc.Suites) == 0 {
		// A document without test cases reads as "no tests ran" to most
		// dashboards; one passing case says the check ran and passed.
		doc.Suites = []junitSuite{{
			Name:  junitName,
			Tests: 1,
			Cases: []junitCase{{Name: junitName, Classname: junitName}},
		}}
		doc.Tests = 1
	}
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	buf.WriteByte('\n')
	return nil
}

// details is a finding's full text for a test report, where there is room
// for the compose snippet to paste.
func details(f check.Finding) string {
	var b strings.Builder
	b.WriteString(f.Message)
	for _, r := range remarks(f) {
		b.WriteString("\n" + r)
	}
	if f.Service != "" || f.Image != "" {
		b.WriteString("\nService: " + f.Service)
		if f.Image != "" {
			b.WriteString(" (image " + f.Image + ")")
		}
	}
	if f.Line > 0 {
		b.WriteString("\nAt: " + position(f))
	}
	if f.Fix.Summary != "" {
		b.WriteString("\nFix: " + f.Fix.Summary)
	}
	if c := strings.TrimRight(f.Fix.Compose, "\n"); c != "" {
		b.WriteString("\n\n" + c + "\n")
	}
	if f.Fix.Alternative != "" {
		b.WriteString("\nOr: " + f.Fix.Alternative)
	}
	return b.String()
}

// xmlText drops what XML 1.0 cannot carry at all: control characters
// other than tab, newline and carriage return, and U+FFFE/U+FFFF.
// encoding/xml escapes the rest, but would write those as they are (or
// as U+FFFD inside text) and some parsers reject the document. Invalid
// UTF-8 comes out of strings.Map as U+FFFD, which is valid.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF {
			return -1
		}
		return r
	}, s)
}

// Package report renders the result of `authz check` for people (text)
// and for the machines that gate merges on it: JSON for scripts, SARIF for
// code-scanning dashboards, JUnit XML for CI test reports and workflow
// commands for GitHub Actions annotations. It also renders `authz image`'s
// report of what the policies see of one image (Image).
//
// Every format renders the findings in the same order, whatever order the
// checker produced them in, so that two runs over the same files give the
// same bytes and CI diffs stay quiet.
package report

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hardened-authz/hardened-authz/internal/check"
)

// Formats lists the accepted --format values, default first.
var Formats = []string{"text", "json", "sarif", "junit", "github"}

// Options carry what the report needs from the command line and the
// environment, which the Report itself does not record.
type Options struct {
	// Version is the tool version for SARIF's tool.driver.version ("" allowed).
	Version string
	// BaseDir makes file paths relative for every format's output
	// when the file is under it (typically the working directory); "" =
	// leave as is. Paths in output use forward slashes.
	BaseDir string
	// Color enables ANSI colour in text output (the command sets it when
	// stdout is a terminal and NO_COLOR is unset).
	Color bool
}

// Write renders r in format to w. An unknown format is an error naming the
// accepted ones; an empty format means the default, so callers need not
// repeat it. The whole document is rendered before anything is written, so
// a failure never leaves half a document behind.
func Write(w io.Writer, format string, r check.Report, o Options) error {
	if format == "" {
		format = Formats[0]
	}
	r.Findings = sorted(r.Findings)
	p := newPaths(o.BaseDir)
	var buf bytes.Buffer
	var err error
	switch format {
	case "text":
		writeText(&buf, r, p, o.Color)
	case "json":
		err = writeJSON(&buf, r, p)
	case "sarif":
		err = writeSARIF(&buf, r, p, o.Version)
	case "junit":
		err = writeJUnit(&buf, r, p)
	case "github":
		writeGitHub(&buf, r, p)
	default:
		return fmt.Errorf("unknown format %q: want one of %s", format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return fmt.Errorf("%s report: %w", format, err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// sorted returns a copy of fs in check.Compare's order: the caller's slice
// may be shared with other renderings, so it is left untouched.
func sorted(fs []check.Finding) []check.Finding {
	out := slices.Clone(fs)
	check.Sort(out)
	return out
}

// level is the severity word every format uses, normalised by IsWarning.
func level(f check.Finding) string {
	if f.IsWarning() {
		return check.SeverityWarning
	}
	return check.SeverityError
}

// exceptionText says which exception accepted a skipped finding, in the
// words every format uses: "exception: REASON; owner OWNER; expires
// DATE" ("" for a finding that is not skipped).
func exceptionText(f check.Finding) string {
	e := f.Exception
	if !f.Skipped || e == nil {
		return ""
	}
	s := "exception: " + e.Reason
	if e.Owner != "" {
		s += "; owner " + e.Owner
	}
	if e.Expires != "" {
		s += "; expires " + e.Expires
	}
	return s
}

// demotedNote is what a demoted finding says of itself: it would have
// been an error.
const demotedNote = "a deny, reported as a warning by the enforcement mode (--mode or data.enforcement.rules)"

// remarks are the lines a finding adds after its message: the exception
// that skipped it, the deny it was, expired exceptions.
func remarks(f check.Finding) []string {
	var rs []string
	if s := exceptionText(f); s != "" {
		rs = append(rs, "Skipped by "+s)
	}
	if f.Demoted {
		rs = append(rs, "Note: "+demotedNote)
	}
	for _, n := range f.Notes {
		rs = append(rs, "Note: "+n)
	}
	return rs
}

// messageWithFix is the one-paragraph form of a finding for formats with a
// single message field (SARIF, GitHub annotations): the fix is what the
// reader acts on, so it must not be lost.
func messageWithFix(f check.Finding) string {
	msg := f.Message
	for _, r := range remarks(f) {
		msg += "\n" + r
	}
	if f.Fix.Summary == "" {
		return msg
	}
	return msg + "\nFix: " + f.Fix.Summary
}

// paths turns compose file names into the names reports show.
type paths struct {
	base string // absolute, cleaned; "" when no base was given
}

func newPaths(base string) paths {
	if base == "" {
		return paths{}
	}
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	return paths{base: filepath.Clean(base)}
}

// rel returns file relative to the base directory, with forward slashes,
// and whether it is under it. A relative file is relative to the working
// directory, which is where the check command resolved it.
func (p paths) rel(file string) (string, bool) {
	if file == "" {
		return "", false
	}
	if p.base == "" {
		return filepath.ToSlash(file), !filepath.IsAbs(file)
	}
	abs := file
	if !filepath.IsAbs(abs) {
		a, err := filepath.Abs(abs)
		if err != nil {
			return filepath.ToSlash(file), false
		}
		abs = a
	}
	r, err := filepath.Rel(p.base, abs)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return filepath.ToSlash(file), false
	}
	return filepath.ToSlash(r), true
}

// RelPath is file as every report names it: relative to base, with forward
// slashes, when it is under base; as given otherwise. Messages about a
// file outside a report (those of --fix) use it to name files the same way.
func RelPath(base, file string) string { return newPaths(base).display(file) }

// display is the name a person or a CI annotation sees.
func (p paths) display(file string) string {
	r, _ := p.rel(file)
	return r
}

// uri is file as a SARIF artifact location: a relative URI against
// %SRCROOT% when it is under the base, so that code-scanning services can
// map it onto the repository, and an absolute file URI otherwise.
func (p paths) uri(file string) (uri string, relative bool) {
	r, under := p.rel(file)
	if under {
		u := (&url.URL{Path: r}).EscapedPath()
		if first, _, _ := strings.Cut(u, "/"); strings.Contains(first, ":") {
			// "a:b.yaml" would read as a URI with scheme "a".
			u = "./" + u
		}
		return u, true
	}
	abs := file
	if a, err := filepath.Abs(file); err == nil {
		abs = a
	}
	abs = filepath.ToSlash(abs)
	if !strings.HasPrefix(abs, "/") {
		abs = "/" + abs // a Windows drive letter: file:///C:/...
	}
	return (&url.URL{Scheme: "file", Path: abs}).String(), false
}

// baseURI is the file URI of the base directory, for SARIF's
// originalUriBaseIds; it ends in a slash, as SARIF requires.
func (p paths) baseURI() string {
	if p.base == "" {
		return ""
	}
	b := filepath.ToSlash(p.base)
	if !strings.HasPrefix(b, "/") {
		b = "/" + b
	}
	if !strings.HasSuffix(b, "/") {
		b += "/"
	}
	return (&url.URL{Scheme: "file", Path: b}).String()
}

// group is a run of sorted findings shown under one heading: one compose
// file, or one project for findings that have no file.
type group struct {
	name     string
	findings []check.Finding
}

// groups splits sorted findings by file (by project when there is no
// file), keeping their order.
func groups(fs []check.Finding, p paths) []group {
	var out []group
	for _, f := range fs {
		name := p.display(f.File)
		if f.File == "" {
			name = f.Project
		}
		if n := len(out); n > 0 && out[n-1].name == name && (out[n-1].findings[0].File == "") == (f.File == "") {
			out[n-1].findings = append(out[n-1].findings, f)
			continue
		}
		out = append(out, group{name: name, findings: []check.Finding{f}})
	}
	return out
}

package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/hardened-authz/hardened-authz/internal/check"
)

// ANSI SGR sequences for the text format.
const (
	sgrRed    = "\x1b[31m"
	sgrYellow = "\x1b[33m"
	sgrDim    = "\x1b[2m"
	sgrReset  = "\x1b[0m"
)

// writeText writes the report for a person at a terminal: findings under
// their file, each followed by its fix, then one summary line.
func writeText(buf *bytes.Buffer, r check.Report, p paths, color bool) {
	paint := func(sgr, s string) string {
		if !color || s == "" {
			return s
		}
		return sgr + s + sgrReset
	}
	for i, g := range groups(r.Findings, p) {
		if i > 0 {
			buf.WriteByte('\n')
		}
		name := g.name
		switch {
		case g.findings[0].File != "":
		case name != "":
			name = "project " + name
		default:
			name = "(no file)"
		}
		buf.WriteString(clean(name))
		buf.WriteByte('\n')
		for _, f := range g.findings {
			sev := fmt.Sprintf("%-7s", level(f))
			switch {
			case f.Skipped:
				sev = paint(sgrDim, "skipped")
			case f.IsWarning():
				sev = paint(sgrYellow, sev)
			default:
				sev = paint(sgrRed, sev)
			}
			msg := message(f)
			if e := exceptionText(f); e != "" {
				msg += " (" + e + ")"
			}
			fmt.Fprintf(buf, "  %s  %s  %s  %s: %s\n",
				position(f), sev, clean(f.Rule), clean(f.Service), indent(clean(msg), "    "))
			if f.Demoted {
				buf.WriteString(paint(sgrDim, "    note: "+demotedNote))
				buf.WriteByte('\n')
			}
			for _, n := range f.Notes {
				buf.WriteString(paint(sgrDim, "    note: "+indent(clean(n), "    ")))
				buf.WriteByte('\n')
			}
			if f.Skipped {
				// Accepted as it is: the fix would only be noise.
				continue
			}
			if f.Fix.Summary != "" {
				buf.WriteString(paint(sgrDim, "    fix: "+indent(clean(f.Fix.Summary), "    ")))
				buf.WriteByte('\n')
			}
			if c := strings.TrimRight(f.Fix.Compose, "\n"); c != "" {
				buf.WriteString(paint(sgrDim, "      "+indent(clean(c), "      ")))
				buf.WriteByte('\n')
			}
			if f.Fix.Alternative != "" {
				buf.WriteString(paint(sgrDim, "    or: "+indent(clean(f.Fix.Alternative), "    ")))
				buf.WriteByte('\n')
			}
		}
	}
	if len(r.Findings) > 0 {
		buf.WriteByte('\n')
	}
	buf.WriteString(summaryLine(r))
	buf.WriteByte('\n')
}

// message is f's message without the "HA002: " the violation library
// starts it with, which the line already shows in its own column.
func message(f check.Finding) string {
	if f.Rule == "" {
		return f.Message
	}
	return strings.TrimPrefix(f.Message, f.Rule+": ")
}

// position is "line:column", or as much of it as is known: "-" says the
// checker could not place the finding, rather than pointing at line 0.
func position(f check.Finding) string {
	switch {
	case f.Line <= 0:
		return "-"
	case f.Column <= 0:
		return strconv.Itoa(f.Line)
	default:
		return strconv.Itoa(f.Line) + ":" + strconv.Itoa(f.Column)
	}
}

// summaryLine is the last line of the text report, the one a person reads
// first.
func summaryLine(r check.Report) string {
	// Counted from the findings shown, not taken from Summary, so the line
	// never says "no problems" under a list of problems.
	errs, warns := check.Count(r.Findings)
	skipped := 0
	for _, f := range r.Findings {
		if f.Skipped {
			skipped++
		}
	}
	s := r.Summary
	var parts []string
	if errs > 0 {
		parts = append(parts, plural(errs, "error"))
	}
	if warns > 0 {
		parts = append(parts, plural(warns, "warning"))
	}
	if len(parts) == 0 {
		parts = append(parts, "no problems")
	}
	if skipped > 0 {
		parts = append(parts, strconv.Itoa(skipped)+" skipped")
	}
	head := strings.Join(parts, ", ")
	line := fmt.Sprintf("%s in %s (%s, %s)", head,
		plural(s.Services, "service"), plural(s.Projects, "project"), plural(s.Files, "file"))
	if s.Fixed > 0 {
		line += "; " + plural(s.Fixed, "fix") + " applied"
	}
	return line
}

func plural(n int, noun string) string {
	if n != 1 {
		if strings.HasSuffix(noun, "x") {
			noun += "es"
		} else {
			noun += "s"
		}
	}
	return strconv.Itoa(n) + " " + noun
}

// indent puts prefix before every line of s after the first, so that a
// multi-line message stays under its finding.
func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// clean makes text from compose files safe to print on a terminal: a
// service name or message carrying escape sequences could otherwise
// rewrite the screen. Newlines and tabs are kept; other control characters
// are shown as Go escapes.
func clean(s string) string {
	if !strings.ContainsFunc(s, isUnsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isUnsafe(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isUnsafe reports control characters, and the bidirectional overrides
// that make a terminal show text in another order than it is.
func isUnsafe(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

package report

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/hardened-authz/hardened-authz/internal/check"
)

// writeGitHub writes one GitHub Actions workflow command per finding, which
// the runner turns into an annotation on the compose file's line in the
// pull request. Nothing else is written: any other line would be shown as
// plain log output and the summary is already in the annotations' count.
func writeGitHub(buf *bytes.Buffer, r check.Report, p paths) {
	for _, f := range r.Findings {
		var props []string
		if file := p.display(f.File); file != "" {
			props = append(props, "file="+escapeProperty(file))
		}
		if f.Line > 0 {
			props = append(props, "line="+strconv.Itoa(f.Line))
			if f.Column > 0 {
				props = append(props, "col="+strconv.Itoa(f.Column))
			}
		}
		title := strings.TrimSpace(f.Rule + " " + f.Title)
		if title != "" {
			props = append(props, "title="+escapeProperty(title))
		}
		buf.WriteString("::")
		if f.Skipped {
			// Accepted by an exception: visible on the line, never a
			// warning or an error in the pull request's checks.
			buf.WriteString("notice")
		} else {
			buf.WriteString(level(f))
		}
		if len(props) > 0 {
			buf.WriteByte(' ')
			buf.WriteString(strings.Join(props, ","))
		}
		buf.WriteString("::")
		buf.WriteString(escapeData(messageWithFix(f)))
		buf.WriteByte('\n')
	}
}

// escapeData escapes a workflow command's message as the Actions toolkit
// does, so that a newline in it cannot end the command and start another
// one of the compose file author's choosing.
var escapeData = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace

// escapeProperty escapes a workflow command property value; ',' and ':'
// would otherwise end the value early.
var escapeProperty = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace

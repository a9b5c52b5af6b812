package authz

import (
	"strings"

	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// MaxMessageBytes bounds a deny message. docker and docker compose print it
// whole; past a few KiB it stops being read.
const MaxMessageBytes = 4096

// Message renders deny violations for the person at the terminal: each
// violation's message, then its fix (the compose snippet for compose
// containers, docker run flags otherwise, and any alternative probe).
func Message(vs []policy.Violation) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(v.Message)
		if v.Fix.Summary != "" {
			b.WriteString("\nFix: ")
			b.WriteString(v.Fix.Summary)
		}
		for _, block := range []string{v.Fix.Compose, v.Fix.DockerRun, v.Fix.Alternative} {
			if block = strings.TrimRight(block, "\n"); block != "" {
				b.WriteString("\n")
				b.WriteString(block)
			}
		}
	}
	return truncate(b.String(), MaxMessageBytes)
}

// truncate cuts s to at most max bytes on a line boundary where it can, and
// says that it did.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const more = "\n[… message truncated; see the plugin log for the full decision]"
	cut := s[:max-len(more)]
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i]
	}
	return strings.ToValidUTF8(cut, "") + more
}

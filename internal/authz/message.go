package authz

import (
	"fmt"
	"strings"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"

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

// overloadedMessage says why a decision was not made in time, and what an
// operator can do about it.
func overloadedMessage(timeout time.Duration, err error) string {
	return fmt.Sprintf("%s: the authorization plugin could not decide this request within %s (%v); it is denied because the plugin fails closed. Retry; if it persists, the plugin is overloaded or the daemon is slow to answer it: see its log, and raise --decision-timeout or --max-evaluations.", RuleOverloaded, timeout, err)
}

// factsMissingMessage says why a create whose healthcheck depends on the
// image's files is denied without them, and that a retry will likely pass.
func factsMissingMessage(doc input.Document, img imagefacts.Image) string {
	ref := img.Ref
	if ref == "" {
		ref = doc.Container.Image
	}
	why := img.IndexErr
	if why == "" {
		why = img.Err
	}
	return fmt.Sprintf("%s: the files of image %s are not indexed yet (%s), and whether this container's healthcheck can run depends on them; it is denied rather than allowed unchecked. Retry in a few seconds: the image is being indexed. If it keeps failing, the image could not be indexed: the plugin's log names it and says why.", RuleFactsMissing, ref, why)
}

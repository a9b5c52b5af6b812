package authz

import (
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/createreq"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/route"

	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/redact"
	"github.com/hardened-authz/hardened-authz/internal/servicereq"
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
	why = excerpt(redact.String(why), maxLoggedError)
	if img.IndexFailed {
		return fmt.Sprintf("%s: image %s could not be indexed (%s), and whether this container's healthcheck can run depends on its files; it is denied rather than allowed unchecked. The plugin retries the scan with a growing delay; its log names the image and says why it failed.", RuleFactsMissing, ref, why)
	}
	return fmt.Sprintf("%s: image %s is being indexed (%s), and whether this container's healthcheck can run depends on its files; it is denied rather than allowed unchecked. Retry in a few seconds.", RuleFactsMissing, ref, why)
}

// unroutableMessage says why a request target was refused.
func unroutableMessage(rt route.Route) string {
	return fmt.Sprintf("%s: the request target %.200q cannot be reduced to a path dockerd routes on, so what it would do cannot be checked; it is denied. Send an origin-form target such as /v1.41/containers/create.", RuleUnroutable, rt.Path)
}

// dockerdBodyLimit is what dockerd before 29.3.1 passes an authorization
// plugin of a request body: only one whose Content-Length is under 1 MiB.
// A larger body reaches the plugin empty while the daemon reads it whole,
// so the plugin sees a create without a body (pkg/authorization/authz.go,
// maxBodySize). 29.3.1 and later pass up to 4 MiB and refuse the rest
// themselves.
const dockerdBodyLimit = 1 << 20

// maxErrorExcerpt bounds the decode error quoted in a deny message: some
// errors quote the offending value, which the client chose.
const maxErrorExcerpt = 300

// BodyErrorMessage is the HA091 deny message for a create whose body
// createreq.Decode refused, given the request headers dockerd forwarded.
// A create that arrived without a body says why it did when the headers
// tell: a body at or over dockerd's 1 MiB limit (which dockerd drops
// silently), a chunked body (which dockerd drops over 1 MiB, and entirely
// without the CVE-2024-41110 fix), or a body not sent as JSON. The caller
// must not add to it: the decode error is already redacted and bounded.
func BodyErrorMessage(err error, headers map[string]string) string {
	if !errors.Is(err, createreq.ErrNoBody) {
		return fmt.Sprintf("%s: the container create body cannot be checked: %s. Send a valid Engine API container config as JSON.",
			RuleBadCreateBody, excerpt(redact.String(err.Error()), maxErrorExcerpt))
	}
	length, hasLength := headerValue(headers, "Content-Length")
	size, sizeErr := strconv.ParseInt(strings.TrimSpace(length), 10, 64)
	ctype, hasType := headerValue(headers, "Content-Type")
	media, _, typeErr := mime.ParseMediaType(ctype)
	switch {
	case hasLength && sizeErr == nil && size >= dockerdBodyLimit:
		return fmt.Sprintf("%s: the container create body is %d bytes (%.1f MiB), and dockerd before 29.3.1 passes authorization plugins only bodies under 1 MiB: it sent this one without its body, so it cannot be checked and is denied. Keep the request under 1 MiB (large labels or environment values belong in a file the container mounts), or upgrade dockerd to 29.3.1 or later, which passes bodies up to 4 MiB.",
			RuleBadCreateBody, size, float64(size)/(1<<20))
	case !hasType || strings.TrimSpace(ctype) == "":
		return RuleBadCreateBody + ": the container create request was sent without a Content-Type, and dockerd passes authorization plugins the body only of application/json requests: it cannot be checked and is denied. Send the body with Content-Type: application/json."
	case typeErr != nil || media != "application/json":
		return fmt.Sprintf("%s: the container create request was sent with Content-Type %.100q, and dockerd passes authorization plugins the body only of application/json requests: it cannot be checked and is denied. Send the body with Content-Type: application/json.",
			RuleBadCreateBody, redact.String(ctype))
	case !hasLength:
		return RuleBadCreateBody + ": the container create body was sent without a Content-Length (chunked), and dockerd did not pass it to the authorization plugin: it passes a chunked body only under 1 MiB, and only with the CVE-2024-41110 fix (23.0.15, 25.0.6, 26.1.5, 27.1.1 and later, or a distribution's backport). It cannot be checked and is denied. Send the body with a Content-Length, as docker and docker compose do, and under 1 MiB."
	}
	return RuleBadCreateBody + ": the container create request reached the authorization plugin without its JSON body, so it cannot be checked and is denied. Send the body with Content-Type: application/json."
}

// serviceBodyMessage is the denial of a swarm service create or update
// whose service spec cannot be read: its task containers would be created
// past the plugin, unchecked.
func serviceBodyMessage(err error) string {
	switch {
	case errors.Is(err, servicereq.ErrNoBody):
		return RuleBadCreateBody + ": the service request reached the authorization plugin without its JSON service spec, so the containers its tasks would create cannot be checked and it is denied. Send the spec with Content-Type: application/json and a Content-Length, as docker service and docker stack do."
	case errors.Is(err, servicereq.ErrNoContainer):
		return RuleBadCreateBody + ": the service spec has no TaskTemplate.ContainerSpec, so there is no container the policies can check, and it is denied."
	}
	return fmt.Sprintf("%s: the service spec cannot be checked: %s. Send a valid Engine API service spec as JSON.",
		RuleBadCreateBody, excerpt(redact.String(err.Error()), maxErrorExcerpt))
}

// headerValue looks a header up the way dockerd wrote it (canonical, as Go's
// http.Header keeps keys), else in any case.
func headerValue(headers map[string]string, name string) (string, bool) {
	if v, ok := headers[name]; ok {
		return v, true
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// excerpt cuts s to at most max bytes of valid UTF-8, and says that it did.
func excerpt(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// startUncheckedMessage says why a start was refused without a verdict.
func startUncheckedMessage(rule, ref string, err error) string {
	return fmt.Sprintf("%s: the authorization plugin could not read container %.100q to check it before it starts (%s); it is denied because the plugin fails closed. Retry; if it persists, see the plugin's log (--daemon-timeout bounds the read).", rule, ref, excerpt(redact.String(err.Error()), maxLoggedError))
}

// maxLoggedError bounds an error text in a message or a log line.
const maxLoggedError = 600

// evalFailureMessage says that the policies failed, with the error
// redacted and bounded: it can quote input values.
func evalFailureMessage(err error) string {
	return fmt.Sprintf("%s: the policies could not decide this request (%s); it is denied because this plugin fails closed. Check the plugin's log and its --policy files.", RuleEvalFailure, excerpt(redact.String(err.Error()), maxLoggedError))
}

package policy

import "github.com/hardened-authz/hardened-authz/internal/redact"

// redactSecrets replaces the credentials that the texts of v quote from the
// request (a healthcheck's `curl -u user:pass`, a probe URL with a token)
// with redact.Marker. Every decision passes decodeResult, so no deny
// message, log line or `authz check` report carries them: dockerd logs
// deny messages, and CI keeps reports.
//
// Fix.Actions are left whole: they are the edits `authz check --fix` writes
// into the user's own compose file, and a redacted probe would not work.
func (v *Violation) redactSecrets() {
	v.Message = redactText(v.Message)
	v.Fix.Summary = redactText(v.Fix.Summary)
	v.Fix.Compose = redactText(v.Fix.Compose)
	v.Fix.DockerRun = redactText(v.Fix.DockerRun)
	v.Fix.Alternative = redactText(v.Fix.Alternative)
}

// redactText is redact.String, for the other texts a decision can carry
// (an error quoting a rule's message).
func redactText(s string) string { return redact.String(s) }

package enforce

import (
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// An operator's file and a bundle's exceptions apply together: a finding
// either one lets through is skipped, with that exception's reason, and
// the first in order wins where both match.
func TestMergedExceptionsApplyTogether(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	parse := func(name, src string) *Exceptions {
		t.Helper()
		x, _, err := ParseExceptions(name, []byte(src), now)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	file := parse("host.yaml", "exceptions:\n  - rules: [HA002]\n    container: legacy-*\n    reason: host says\n")
	fleet := parse("bundle:fleet/exceptions/data.json", `{"exceptions": [{"rules": ["HA002", "HA007"], "compose_service": "app", "reason": "fleet says"}]}`)
	m := Merge(nil, file, fleet)
	if m.Len() != 2 || m.File != "host.yaml, bundle:fleet/exceptions/data.json" {
		t.Fatalf("merged %d exceptions from %q", m.Len(), m.File)
	}
	if Merge(nil, file) != file || Merge() != nil {
		t.Error("merging one list (or none) should hand it back as it is")
	}
	p := &Policy{Mode: Enforce, Exceptions: m}
	res := func(rule string) policy.Result {
		return policy.Result{Deny: []policy.Violation{{Rule: rule, Severity: policy.SeverityError, Message: rule}}}
	}
	for _, tc := range []struct {
		rule    string
		subject Subject
		reason  string
	}{
		{"HA002", Subject{Container: "legacy-api"}, "host says"},
		{"HA002", Subject{ComposeService: "app"}, "fleet says"},
		{"HA007", Subject{ComposeService: "app"}, "fleet says"},
		{"HA002", Subject{Container: "legacy-api", ComposeService: "app"}, "host says"},
		{"HA007", Subject{Container: "legacy-api"}, ""},
	} {
		out := p.Apply(res(tc.rule), tc.subject, now)
		switch {
		case tc.reason == "" && (len(out.Skipped) != 0 || len(out.Deny) != 1):
			t.Errorf("%s on %+v: skipped %v, want denied", tc.rule, tc.subject, out.Skipped)
		case tc.reason != "" && (len(out.Skipped) != 1 || out.Skipped[0].Reason != tc.reason):
			t.Errorf("%s on %+v: skipped %+v, want the exception %q", tc.rule, tc.subject, out.Skipped, tc.reason)
		}
	}
}

// JSON is the file again: parsed back, it is the same list, expiry dates
// as written (a date means the end of that day).
func TestExceptionsJSONRoundTrips(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	src := `exceptions:
  - rules: [HA002, HA007]
    image: dhi.io/node
    compose_project: shop
    compose_service: "app*"
    container: web
    digest: sha256:0123456789012345678901234567890123456789012345678901234567890123
    reason: "the vendor ships curl in 26.1: ticket OPS-12"
    owner: platform@example.com
    expires: 2027-01-31
  - rules: [HA006]
    container: db
    reason: probed by the database's own check
`
	x, _, err := ParseExceptions("host.yaml", []byte(src), now)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := x.JSON()
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := ParseExceptions("bundle.json", raw, now)
	if err != nil {
		t.Fatalf("the JSON does not parse back: %v\n%s", err, raw)
	}
	if len(y.List) != len(x.List) {
		t.Fatalf("%d exceptions back, want %d", len(y.List), len(x.List))
	}
	for i := range x.List {
		a, b := x.List[i], y.List[i]
		a.Line, b.Line = 0, 0
		if a.Image != b.Image || a.Digest != b.Digest || a.ComposeProject != b.ComposeProject || a.ComposeService != b.ComposeService ||
			a.Container != b.Container || a.Reason != b.Reason || a.Owner != b.Owner || !a.Expires.Equal(b.Expires) ||
			a.ExpiresText != b.ExpiresText || len(a.Rules) != len(b.Rules) {
			t.Errorf("exception %d: %+v back as %+v", i, a, b)
		}
	}
	if !y.List[0].Expires.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expires %v: the date must stay the end of 2027-01-31", y.List[0].Expires)
	}
}

package enforce

import (
	"strconv"
	"strings"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// Subject is what an exception's selectors are matched against: the
// container a finding is about.
type Subject struct {
	// Image is the normalized repository (docker.io/library/redis).
	Image string
	// Digest is the reference's digest, ImageID the image's ID, when known.
	Digest  string
	ImageID string
	// ComposeProject and ComposeService are the compose labels.
	ComposeProject string
	ComposeService string
	// Container is the container's name, without the leading slash
	// dockerd stores it with.
	Container string
}

// SubjectOf is the subject of a decision's input document. It copies
// strings only, so it costs nothing on the request path.
func SubjectOf(doc input.Document) Subject {
	var s Subject
	if img := doc.Image; img != nil {
		s.Image, s.Digest, s.ImageID = img.Repository, img.Digest, img.ID
	}
	if c := doc.Container; c != nil {
		s.Container = strings.TrimPrefix(c.Name, "/")
		if cp := c.Compose; cp != nil {
			s.ComposeProject, s.ComposeService = cp.Project, cp.Service
		}
	}
	return s
}

// Policy is the operator's enforcement: the global mode and the
// exceptions file. Per-rule modes come with each policy.Result, from the
// policy generation that produced it. A Policy is never changed once in
// use: a reload builds a new one and swaps it in.
type Policy struct {
	Mode       Mode
	Exceptions *Exceptions
}

// Skip is a finding an exception let through.
type Skip struct {
	Violation policy.Violation `json:"violation"`
	// Exception is the index of the exception in its file's list; Line
	// where it starts.
	Exception int    `json:"exception"`
	Line      int    `json:"line"`
	Reason    string `json:"reason"`
	Owner     string `json:"owner,omitempty"`
	// Expires is as the file wrote it ("" for never).
	Expires string `json:"expires,omitempty"`
	// Warning is true when the finding was a warning, not a deny.
	Warning bool `json:"warning,omitempty"`
}

// Expired is a finding that an expired exception would have let through:
// the finding stands, and the decision says the exception has run out.
type Expired struct {
	Rule      string `json:"rule"`
	Exception int    `json:"exception"`
	Line      int    `json:"line"`
	Reason    string `json:"reason"`
	Owner     string `json:"owner,omitempty"`
	Expires   string `json:"expires"`
}

// Note is the sentence a report adds to the finding.
func (e Expired) Note() string {
	s := "exception " + strconv.Itoa(e.Exception+1) + " (line " + strconv.Itoa(e.Line) + ") expired " + e.Expires
	if e.Owner != "" {
		s += "; owner " + e.Owner
	}
	return s + ": " + e.Reason
}

// Outcome is what the findings of one evaluation do under a Policy.
type Outcome struct {
	// Deny are the denies that still deny.
	Deny []policy.Violation
	// Warn are the policies' own warnings that still stand.
	Warn []policy.Violation
	// Demoted are denies turned into warnings: by their rule's "warn"
	// mode, or by the global Warn or DryRun mode.
	Demoted []policy.Violation
	// Skipped are the findings (denies and warnings) exceptions let
	// through.
	Skipped []Skip
	// Expired notes the findings an expired exception would have matched.
	Expired []Expired
	// Off counts the findings dropped because their rule is "off".
	Off int
	// WouldDeny is true when the global mode let through a request the
	// policies denied.
	WouldDeny bool
}

// Allowed reports whether nothing denies any longer.
func (o *Outcome) Allowed() bool { return len(o.Deny) == 0 }

// Apply decides what res's findings do for subject s at now. With the
// enforce mode, no exceptions and no per-rule modes it returns res's
// findings as they are, without allocating: the request path of a plugin
// that uses none of this pays nothing.
//
// Per finding, in this order: a rule set "off" drops it; a live
// exception skips it (an expired one only adds a note); a rule set "warn"
// demotes a deny; then the global Warn or DryRun mode demotes every
// remaining deny. HA090 is never weakened.
func (p *Policy) Apply(res policy.Result, s Subject, now time.Time) Outcome {
	var mode Mode
	var x *Exceptions
	if p != nil {
		mode, x = p.Mode, p.Exceptions
	}
	if mode == Enforce && x.Len() == 0 && len(res.RuleModes) == 0 {
		return Outcome{Deny: res.Deny, Warn: res.Warn}
	}
	if mode == Enforce && !touches(res, x) {
		return Outcome{Deny: res.Deny, Warn: res.Warn}
	}
	var o Outcome
	for _, v := range res.Deny {
		if v.Rule == policy.AlwaysEnforced {
			o.Deny = append(o.Deny, v)
			continue
		}
		if o.dropOrSkip(v, false, res.RuleModes, x, &s, now) {
			continue
		}
		switch {
		case res.RuleModes.Mode(v.Rule) == policy.RuleWarn:
			o.Demoted = append(o.Demoted, v)
		case mode != Enforce:
			o.Demoted = append(o.Demoted, v)
			o.WouldDeny = true
		default:
			o.Deny = append(o.Deny, v)
		}
	}
	for _, v := range res.Warn {
		if !o.dropOrSkip(v, true, res.RuleModes, x, &s, now) {
			o.Warn = append(o.Warn, v)
		}
	}
	return o
}

// touches reports whether any finding has a per-rule mode or an
// exception listing its rule: when none has, Apply in enforce mode can
// hand the findings back untouched.
func touches(res policy.Result, x *Exceptions) bool {
	for _, vs := range [2][]policy.Violation{res.Deny, res.Warn} {
		for i := range vs {
			if _, ok := res.RuleModes[vs[i].Rule]; ok {
				return true
			}
			if x != nil && len(x.byRule[vs[i].Rule]) > 0 {
				return true
			}
		}
	}
	return false
}

// dropOrSkip applies the rule's "off" mode and the exceptions to v, and
// reports whether v is gone from the findings that count.
func (o *Outcome) dropOrSkip(v policy.Violation, warning bool, modes policy.RuleModes, x *Exceptions, s *Subject, now time.Time) bool {
	if modes.Mode(v.Rule) == policy.RuleOff {
		o.Off++
		return true
	}
	if x == nil {
		return false
	}
	live, expired := x.match(v.Rule, s, now)
	if expired >= 0 {
		e := &x.List[expired]
		o.Expired = append(o.Expired, Expired{Rule: v.Rule, Exception: expired, Line: e.Line, Reason: e.Reason, Owner: e.Owner, Expires: e.ExpiresText})
	}
	if live < 0 {
		return false
	}
	e := &x.List[live]
	o.Skipped = append(o.Skipped, Skip{Violation: v, Exception: live, Line: e.Line, Reason: e.Reason, Owner: e.Owner, Expires: e.ExpiresText, Warning: warning})
	return true
}

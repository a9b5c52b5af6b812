package authz

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

// maxLoggedPath bounds what a record keeps of a request path: a client can
// send megabytes of URI, and a log line must stay a line.
const maxLoggedPath = 512

// Record is one decision: what was asked, what was decided and why. It is
// what the log line, and later metrics, are made from.
type Record struct {
	Method      string
	Path        string
	Action      string
	Image       string
	ImageSource string
	// Container is the create's ?name=; Service is "project/service" for
	// compose containers.
	Container string
	Service   string
	Allow     bool
	Msg       string
	// Violations are the deny findings, Warnings the warn findings.
	Violations []policy.Violation
	Warnings   []policy.Violation
	// Builtin is the rule ID when Go, not Rego, denied the request.
	Builtin string
	// IndexErr says why the image's index did not answer, when it did not.
	IndexErr string
	Err      string
	Duration time.Duration

	// Reused is true for a start allowed on its create's decision: same
	// container, same image ID, same policies (see created).
	Reused bool

	// Mode is the global enforcement mode in effect (enforce without
	// SetEnforcement).
	Mode enforce.Mode
	// Demoted are denies that did not deny: their rule's mode is "warn"
	// (data.enforcement.rules), or the global mode is warn or dryrun. A
	// Go-decided denial (Builtin) let through by the global mode is here
	// too, as a violation with its rule ID and message, and Builtin is
	// then empty. Violations and Warnings do not repeat them.
	Demoted []policy.Violation
	// WouldDeny is true when the global mode (warn, dryrun) allowed a
	// request that would otherwise have been denied.
	WouldDeny bool
	// Skipped are the findings an operator's exception let through, with
	// its reason and owner.
	Skipped []enforce.Skip
	// Expired are findings that an expired exception would have let
	// through: they stand, and the log says the exception ran out.
	Expired []enforce.Expired
	// Off counts the findings dropped because their rule is "off".
	Off int

	// fast marks a request allowed on the fast path, never evaluated.
	fast bool
	// imageID and generation are what an allowed create was decided on,
	// for its start.
	imageID    string
	generation uint64
	// doc is the input document the policies saw, or would have seen for
	// a request Go denied first, kept for the decision log. It is a few
	// pointers to what the decision built anyway, so keeping it costs
	// nothing when no log reads it; nothing is copied or rendered here.
	doc input.Document
	// input is doc as the Rego value the policies evaluated, when they
	// did: the decision log writes it instead of building it again.
	input ast.Value
	// compatInput is the input the opa-docker-authz policy evaluated when
	// it denied the request (RuleCompat): what explains the denial.
	compatInput ast.Value
}

// allowed is the record of a request no policy needs to see.
func allowed(rt route.Route) Record {
	return Record{Method: rt.Method, Path: rt.Path, Action: rt.Kind.String(), Allow: true, fast: true}
}

// builtinDenial is the record of a request Go denies before, or instead
// of, the policies: rule is the Go-decided rule ID.
func builtinDenial(rt route.Route, doc input.Document, rule, msg string) Record {
	return Record{Method: rt.Method, Path: rt.Path, Action: doc.Action, Builtin: rule, Msg: msg, doc: doc}
}

// decided is the record of the policies' result on doc.
func decided(rt route.Route, doc input.Document, res policy.Result) Record {
	r := Record{Method: rt.Method, Path: rt.Path, Action: doc.Action, Allow: len(res.Deny) == 0, Violations: res.Deny, Warnings: res.Warn, doc: doc}
	if !r.Allow {
		r.Msg = Message(res.Deny)
	}
	return r
}

// about adds what the record says of a create's container and image; it
// leaves other requests' records as they are.
func (r Record) about(doc input.Document, img imagefacts.Image) Record {
	c := doc.Container
	if c == nil {
		return r
	}
	r.Image, r.Container, r.IndexErr = img.Ref, c.Name, img.IndexErr
	r.doc = doc
	if img.Found {
		r.imageID = img.ID
	}
	if doc.Image != nil {
		r.ImageSource = doc.Image.Source
	}
	if cp := c.Compose; cp != nil {
		r.Service = cp.Project + "/" + cp.Service
	}
	return r
}

// Rules lists the IDs of the rules that denied the request.
func (r *Record) Rules() []string {
	var ids []string
	if r.Builtin != "" {
		ids = append(ids, r.Builtin)
	}
	for _, v := range r.Violations {
		ids = append(ids, v.Rule)
	}
	return ids
}

// ruleIDs are the rule IDs of vs, in order, for the log.
func ruleIDs(vs []policy.Violation) []string {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.Rule
	}
	return ids
}

// FastPath reports whether the request was allowed on the fast path,
// without any policy looking at it: the decision log leaves those out.
func (r *Record) FastPath() bool { return r.fast }

// Input is the input document the decision was made on, as a Rego value,
// for the decision log: the value the policies evaluated, or, for a
// request Go decided alone, one built on the call, so only a caller that
// logs pays for it; for a request the opa-docker-authz policy denied, the
// input that policy evaluated (its own shape). ok is false for a
// fast-path request, which no policy saw. The value is shared: never
// change it.
func (r *Record) Input() (v ast.Value, ok bool) {
	switch {
	case r.compatInput != nil:
		return r.compatInput, true
	case r.fast || r.doc.Source == "":
		return nil, false
	case r.input != nil:
		return r.input, true
	}
	return r.doc.Value(), true
}

// PolicyGeneration is the policy set's generation (policy.Engine.Generation)
// the request was decided under, 0 for a fast-path request.
func (r *Record) PolicyGeneration() uint64 { return r.generation }

// Response is the answer dockerd gets.
func (r *Record) Response() authorization.Response {
	return authorization.Response{Allow: r.Allow, Msg: r.Msg}
}

// Attrs renders the record for a structured log. The request body and
// headers are never logged: they can carry secrets (environment values,
// registry credentials).
func (r *Record) Attrs() []slog.Attr {
	path := r.Path
	if len(path) > maxLoggedPath {
		path = path[:maxLoggedPath] + "…"
	}
	attrs := []slog.Attr{
		slog.Bool("allow", r.Allow),
		slog.String("action", r.Action),
		slog.String("method", r.Method),
		slog.String("path", path),
		slog.Duration("duration", r.Duration),
	}
	// The image, the name and the labels are the client's: a line stays a
	// line whatever it sent.
	if r.Image != "" {
		attrs = append(attrs, slog.String("image", excerpt(r.Image, maxLoggedPath)), slog.String("image_source", r.ImageSource))
	}
	if r.Container != "" {
		attrs = append(attrs, slog.String("container", excerpt(r.Container, maxLoggedPath)))
	}
	if r.Service != "" {
		attrs = append(attrs, slog.String("service", excerpt(r.Service, maxLoggedPath)))
	}
	if ids := r.Rules(); len(ids) > 0 {
		attrs = append(attrs, slog.Any("rules", ids))
	}
	if r.Reused {
		attrs = append(attrs, slog.Bool("reused", true))
	}
	if len(r.Warnings) > 0 {
		attrs = append(attrs, slog.Any("warnings", ruleIDs(r.Warnings)))
	}
	attrs = r.enforcementAttrs(attrs)
	if r.IndexErr != "" {
		attrs = append(attrs, slog.String("index_error", excerpt(r.IndexErr, maxLoggedError)))
	}
	if r.Err != "" {
		attrs = append(attrs, slog.String("error", r.Err))
	}
	return attrs
}

// enforced adds what the operator's enforcement made of the policies'
// findings (enforce.Policy.Apply) to a record built from out's Deny and
// Warn.
func (r *Record) enforced(p *enforce.Policy, out enforce.Outcome) {
	if p != nil {
		r.Mode = p.Mode
	}
	r.Demoted, r.WouldDeny, r.Skipped, r.Expired, r.Off = out.Demoted, out.WouldDeny, out.Skipped, out.Expired, out.Off
	if r.WouldDeny {
		// Not sent (dockerd ignores the message of an allow), but what
		// the deny would have said is what a would-deny record is for.
		r.Msg = Message(out.Demoted)
	}
}

// demoteBuiltin lets a Go-decided denial through under the global warn
// or dryrun mode, as the policies' denies are: a plugin being rolled out
// must not refuse a body it cannot read either. The deny is kept in
// Demoted, marked WouldDeny.
func demoteBuiltin(r *Record, p *enforce.Policy) {
	if p == nil || p.Mode == enforce.Enforce || r.Builtin == "" || r.Allow || r.Builtin == policy.AlwaysEnforced {
		return
	}
	r.Demoted = append(r.Demoted, policy.Violation{Rule: r.Builtin, Severity: policy.SeverityError, Message: r.Msg})
	r.Builtin, r.Allow, r.WouldDeny = "", true, true
}

// enforcementAttrs renders the enforcement fields, only when they say
// something: an enforced decision without exceptions logs as before.
func (r *Record) enforcementAttrs(attrs []slog.Attr) []slog.Attr {
	if r.Mode != enforce.Enforce {
		attrs = append(attrs, slog.String("mode", r.Mode.String()))
	}
	if r.WouldDeny {
		attrs = append(attrs, slog.Bool("would_deny", true))
	}
	if len(r.Demoted) > 0 {
		attrs = append(attrs, slog.Any("demoted", ruleIDs(r.Demoted)))
	}
	if len(r.Skipped) > 0 {
		skipped := make([]string, len(r.Skipped))
		for i, s := range r.Skipped {
			skipped[i] = s.Violation.Rule + " (exception " + strconv.Itoa(s.Exception+1) + ": " + excerpt(s.Reason, maxLoggedPath) + ")"
		}
		attrs = append(attrs, slog.Any("skipped", skipped))
	}
	if len(r.Expired) > 0 {
		notes := make([]string, len(r.Expired))
		for i, e := range r.Expired {
			notes[i] = e.Rule + ": " + excerpt(e.Note(), maxLoggedPath)
		}
		attrs = append(attrs, slog.Any("expired_exceptions", notes))
	}
	if r.Off > 0 {
		attrs = append(attrs, slog.Int("off", r.Off))
	}
	return attrs
}

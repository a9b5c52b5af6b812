package authz

import (
	"log/slog"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

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

	// fast marks a request allowed on the fast path, never evaluated.
	fast bool
	// imageID and generation are what an allowed create was decided on,
	// for its start.
	imageID    string
	generation uint64
}

// allowed is the record of a request no policy needs to see.
func allowed(rt route.Route) Record {
	return Record{Method: rt.Method, Path: rt.Path, Action: rt.Kind.String(), Allow: true, fast: true}
}

// builtinDenial is the record of a request Go denies before, or instead
// of, the policies: rule is the Go-decided rule ID.
func builtinDenial(rt route.Route, doc input.Document, rule, msg string) Record {
	return Record{Method: rt.Method, Path: rt.Path, Action: doc.Action, Builtin: rule, Msg: msg}
}

// decided is the record of the policies' result on doc.
func decided(rt route.Route, doc input.Document, res policy.Result) Record {
	r := Record{Method: rt.Method, Path: rt.Path, Action: doc.Action, Allow: len(res.Deny) == 0, Violations: res.Deny, Warnings: res.Warn}
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
		ids := make([]string, len(r.Warnings))
		for i, w := range r.Warnings {
			ids[i] = w.Rule
		}
		attrs = append(attrs, slog.Any("warnings", ids))
	}
	if r.IndexErr != "" {
		attrs = append(attrs, slog.String("index_error", excerpt(r.IndexErr, maxLoggedError)))
	}
	if r.Err != "" {
		attrs = append(attrs, slog.String("error", r.Err))
	}
	return attrs
}

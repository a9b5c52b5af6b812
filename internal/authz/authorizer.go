// Package authz decides Docker API requests. Its Authorizer is the request
// path of the plugin, top to bottom: route, decode, normalize, image facts,
// evaluate, respond. Every decision produces one Record.
package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/createreq"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

// Rule IDs decided in Go rather than in Rego, because they guard the input
// the policies would see.
const (
	// RuleBadCreateBody denies a container create whose body is missing,
	// empty or undecodable (the CVE-2024-41110 bypass class).
	RuleBadCreateBody = "HA091"
	// RuleEvalFailure denies a request the policies could not decide.
	RuleEvalFailure = "HA099"
)

// DefaultDecisionTimeout bounds one decision, image lookup included, so the
// plugin never holds a Docker API call for long.
const DefaultDecisionTimeout = 5 * time.Second

// Authorizer decides requests with a policy engine and image facts.
type Authorizer struct {
	Engine *policy.Engine
	Images imagefacts.Inspector
	// PluginName is this plugin's name, as configured in daemon.json.
	PluginName string
	// Timeout bounds one decision; zero means DefaultDecisionTimeout.
	Timeout time.Duration
	Log     *slog.Logger
}

// AuthZReq decides a request before dockerd runs it.
func (a *Authorizer) AuthZReq(ctx context.Context, req authorization.Request) authorization.Response {
	start := time.Now()
	rt := route.Parse(req.RequestMethod, req.RequestURI)
	rec := Record{Method: rt.Method, Path: rt.Path, Action: rt.Kind.String(), Allow: true}

	switch {
	case rt.Kind == route.Ping:
		// Never evaluated: denying /_ping breaks every CLI command.
	case rt.Kind == route.Other && !a.Engine.HasRequestRules():
		// The fast path: the shipped rules have nothing to say here.
	default:
		a.decide(ctx, rt, req, &rec)
	}
	rec.Duration = time.Since(start)
	a.log(ctx, rec)
	return rec.Response()
}

// AuthZRes always allows: by the time dockerd asks, the handler has run
// and the container exists. Enforcement belongs in AuthZReq.
func (a *Authorizer) AuthZRes(context.Context, authorization.Request) authorization.Response {
	return authorization.Response{Allow: true}
}

func (a *Authorizer) decide(ctx context.Context, rt route.Route, req authorization.Request, rec *Record) {
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = DefaultDecisionTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	caller := input.Caller{User: req.User, AuthMethod: req.UserAuthNMethod, UserAgent: req.RequestHeaders["User-Agent"]}
	doc := input.ForRequest(rt, caller, a.PluginName)
	rec.Action = doc.Action

	if rt.Kind == route.ContainerCreate {
		create, err := createreq.Decode(req.RequestBody)
		if err != nil {
			rec.deny(RuleBadCreateBody, badBodyMessage(err))
			return
		}
		name := ""
		if rt.Query != nil {
			name = rt.Query.Get("name")
		}
		img := a.Images.Inspect(ctx, create.Config.Image)
		rec.Image, rec.ImageSource = create.Config.Image, img.Source
		doc = doc.WithCreate(name, create, img)
	}

	res, err := a.Engine.Evaluate(ctx, doc.Value())
	if err != nil {
		rec.Err = err.Error()
		rec.deny(RuleEvalFailure, fmt.Sprintf("%s: the policies could not decide this request (%v); it is denied because this plugin fails closed. Check the plugin's log and its --policy files.", RuleEvalFailure, err))
		return
	}
	rec.Violations = res.Deny
	rec.Warnings = res.Warn
	if len(res.Deny) > 0 {
		rec.Allow = false
		rec.Msg = Message(res.Deny)
	}
}

func badBodyMessage(err error) string {
	if errors.Is(err, createreq.ErrNoBody) {
		return RuleBadCreateBody + ": the container create request reached the authorization plugin without its JSON body, so it cannot be checked and is denied. Send the body with Content-Type: application/json."
	}
	return fmt.Sprintf("%s: the container create body cannot be checked: %v. Send a valid Engine API container config as JSON.", RuleBadCreateBody, err)
}

func (a *Authorizer) log(ctx context.Context, rec Record) {
	if a.Log == nil {
		return
	}
	level := slog.LevelInfo
	if rec.Allow && len(rec.Rules()) == 0 && rec.Action != route.ContainerCreate.String() {
		// Allowed requests that no rule looked at would drown the log.
		level = slog.LevelDebug
	}
	if !a.Log.Enabled(ctx, level) {
		return
	}
	a.Log.LogAttrs(ctx, level, "decision", rec.Attrs()...)
}

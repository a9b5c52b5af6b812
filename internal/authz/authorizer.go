// Package authz decides Docker API requests. Its Authorizer is the request
// path of the plugin, top to bottom: route, decode, normalize, image facts,
// evaluate, respond. Every decision produces one Record.
package authz

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/moby/moby/api/types/container"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/createreq"
	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/netns"
	"github.com/hardened-authz/hardened-authz/internal/pluginref"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/redact"
	"github.com/hardened-authz/hardened-authz/internal/route"
	"github.com/hardened-authz/hardened-authz/internal/servicereq"
	"github.com/hardened-authz/hardened-authz/internal/startreq"
)

// Rule IDs decided in Go rather than in Rego, because they guard the input
// the policies would see, or the plugin itself.
const (
	// RuleBadCreateBody denies a container create whose body is missing,
	// empty or undecodable (the CVE-2024-41110 bypass class), and a swarm
	// service create or update whose service spec is.
	RuleBadCreateBody = "HA091"
	// RuleFactsMissing denies a create the policies allowed without the
	// image's files, which a healthcheck's verdict depends on: allowing it
	// would let any image the catalog does not name through unchecked.
	RuleFactsMissing = "HA092"
	// RuleOverloaded denies a request the plugin could not decide within
	// its deadline (queued behind other decisions, or a slow daemon).
	RuleOverloaded = "HA093"
	// RuleUnroutable denies a request target the plugin cannot reduce to
	// the path dockerd routes on: what dockerd would do with it is unknown.
	RuleUnroutable = "HA094"
	// RuleEvalFailure denies a request the policies could not decide.
	RuleEvalFailure = "HA099"
)

// BuiltinRules lists the rule IDs decided in Go, for documentation checks.
func BuiltinRules() []string {
	return []string{RuleBadCreateBody, RuleFactsMissing, RuleOverloaded, RuleUnroutable, RuleCompat, RuleEvalFailure}
}

// DefaultDecisionTimeout bounds one decision, image lookup included, so the
// plugin never holds a Docker API call for long.
const DefaultDecisionTimeout = 5 * time.Second

// evalReserve is the part of a decision's deadline kept for evaluation
// when a create waits for its image's files.
const evalReserve = 500 * time.Millisecond

// Warmer indexes images before their first create asks for them.
// imagescan.Scanner is one.
type Warmer interface {
	// Warm indexes image id in the background.
	Warm(id string)
	// WarmAll indexes every local image in the background.
	WarmAll(ctx context.Context)
}

// Authorizer decides requests with a policy engine and image facts.
type Authorizer struct {
	Engine *policy.Engine
	// Images answers what is known of a create's image, within its
	// deadlines. nil means the name and the catalog alone decide.
	Images *imagefacts.Source
	// Warmer, when set, indexes the images that pulls and loads bring, so
	// their first create finds the index ready.
	Warmer Warmer
	// Containers, when set, resolves the container a "container:" network
	// mode joins, so sidecar rules see the app.
	Containers netns.Resolver
	// DaemonAPI, when set, says the daemon's highest API version ("1.41"
	// for dockerd 20.10), so that a create body is read as that daemon
	// reads it (createreq.DialectOf). Asked once it answers.
	DaemonAPI func(ctx context.Context) (string, error)
	// Plugins, when set, resolves the plugin that a plugin.disable,
	// remove, set or upgrade request names (a name, an ID or an ID
	// prefix), so HA090 recognises this plugin by ID.
	Plugins pluginref.Resolver
	// Started, when set, reads the container a start names, so that the
	// start is decided as the create dockerd stored, on the image ID that
	// will run. nil leaves starts on the fast path.
	Started startreq.Inspector
	// PluginName is this plugin's name, as configured in daemon.json.
	PluginName string
	// Timeout bounds one decision; zero means DefaultDecisionTimeout.
	Timeout time.Duration
	// Gate bounds the evaluations that run at once; nil means no bound.
	// Time spent waiting for it counts against the decision's deadline.
	Gate *Gate
	Log  *slog.Logger
	// Observer, when set, sees every decision (fast-path allows included)
	// after it is made and before dockerd gets the answer: the decision
	// log and the metrics (see Observers). nil costs nothing.
	Observer Observer

	created      created
	factsMissing atomic.Int64
	overloaded   atomic.Int64
	dialect      atomic.Int32 // a createreq.Dialect once known
	// enforcement is the operator's mode and exceptions (SetEnforcement);
	// nil enforces every deny.
	enforcement atomic.Pointer[enforce.Policy]
	// compat is the opa-docker-authz policy (SetCompat); nil for none.
	compat atomic.Pointer[Compat]
}

// SetEnforcement swaps in the operator's enforcement: the global mode
// and the exceptions file. Decisions already running keep the policy they
// loaded; the next ones use p. nil means enforce, without exceptions. A
// reload of the exceptions file builds a new Policy and calls this; the
// Policy given must not be changed afterwards.
func (a *Authorizer) SetEnforcement(p *enforce.Policy) { a.enforcement.Store(p) }

// Enforcement is the policy SetEnforcement last set, nil for none.
func (a *Authorizer) Enforcement() *enforce.Policy { return a.enforcement.Load() }

// Stats reports how many creates were denied because the image's files
// were not known in time (RuleFactsMissing), and how many decisions could
// not be made within their deadline (RuleOverloaded).
func (a *Authorizer) Stats() (factsMissing, overloaded int64) {
	return a.factsMissing.Load(), a.overloaded.Load()
}

// AuthZReq decides a request before dockerd runs it.
func (a *Authorizer) AuthZReq(ctx context.Context, req authorization.Request) authorization.Response {
	start := time.Now()
	rt := route.Parse(req.RequestMethod, req.RequestURI)
	var rec Record
	switch {
	case rt.Kind == route.Ping:
		// Never evaluated: denying /_ping breaks every CLI command.
		rec = allowed(rt)
	case !a.decides(rt.Kind) && !a.Engine.HasRequestRules():
		// The fast path: the shipped rules have nothing to say here.
		rec = allowed(rt)
	default:
		rec = a.decide(ctx, rt, req)
		demoteBuiltin(&rec, a.enforcement.Load())
		if rec.Allow && rt.Kind == route.ContainerCreate && rec.imageID != "" && a.Started != nil {
			a.created.allowed(rt.Query.Get("name"), req.RequestBody, createdFact{rec.imageID, rec.generation})
		}
	}
	if c := a.compat.Load(); c != nil {
		a.checkCompat(ctx, c, start, req, &rec)
	}
	if ep := a.enforcement.Load(); ep != nil {
		rec.Mode = ep.Mode
	}
	rec.Duration = time.Since(start)
	a.log(ctx, rec)
	if a.Observer != nil {
		if !rec.fast && rec.generation == 0 {
			rec.generation = a.Engine.Generation()
		}
		a.Observer.Observe(ctx, rec)
	}
	return rec.Response()
}

// Observer is told of each decision, synchronously, on the request path:
// what it does there delays the answer, so it must be quick, and it must
// not keep rec's slices.
type Observer interface {
	Observe(ctx context.Context, rec Record)
}

// Observers tells each of its observers, in order.
type Observers []Observer

// Observe tells each observer of rec.
func (obs Observers) Observe(ctx context.Context, rec Record) {
	for _, o := range obs {
		o.Observe(ctx, rec)
	}
}

// AuthZRes always allows: by the time dockerd asks, the handler has run
// and the container exists. Enforcement belongs in AuthZReq. A successful
// pull or load starts indexing the new image, so its first create finds the
// index ready.
func (a *Authorizer) AuthZRes(_ context.Context, req authorization.Request) authorization.Response {
	// Every API call comes back through here: only a successful POST can
	// be a pull, a load or a create, so nothing else is even parsed.
	if req.RequestMethod != "POST" {
		return authorization.Response{Allow: true}
	}
	switch req.ResponseStatusCode {
	case 200:
		if a.Warmer == nil {
			break
		}
		switch rt := route.Parse(req.RequestMethod, req.RequestURI); rt.Kind {
		case route.ImagePull:
			go a.warmPulled(rt)
		case route.ImageLoad:
			go a.Warmer.WarmAll(context.Background())
		}
	case 201:
		if rt := route.Parse(req.RequestMethod, req.RequestURI); rt.Kind == route.ContainerCreate && a.Started != nil {
			a.created.made(rt.Query.Get("name"), req.RequestBody, req.ResponseBody)
		}
	}
	return authorization.Response{Allow: true}
}

// warmPulled indexes the image a pull named. It runs after the response,
// off the request path.
func (a *Authorizer) warmPulled(rt route.Route) {
	ref := rt.Query.Get("fromImage")
	if ref == "" {
		// docker import: the new image's name is in the response stream only.
		a.Warmer.WarmAll(context.Background())
		return
	}
	if tag := rt.Query.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	if f := a.Images.Inspect(context.Background(), ref); f.Found {
		a.Warmer.Warm(f.ID)
	}
}

// decide is the request path for a request the policies must see:
// decode, normalize, facts, evaluate, record. Each step returns what the
// next one needs; the record is made from all of them at the end.
func (a *Authorizer) decide(ctx context.Context, rt route.Route, req authorization.Request) Record {
	ctx, cancel := context.WithTimeout(ctx, a.timeout())
	defer cancel()

	doc := input.ForRequest(rt, callerOf(req), a.PluginName)
	var (
		name   string
		create *container.CreateRequest
		img    imagefacts.Image
	)
	switch rt.Kind {
	case route.Plugin:
		// Only the guarded verbs: the resolver's own plugin inspect comes
		// back through here, and must not wait on itself.
		if a.Plugins != nil && pluginref.Guarded(rt.PluginVerb) {
			doc = doc.WithPluginTarget(a.Plugins.Resolve(ctx, rt.PluginName))
		}
	case route.Unparsable:
		return builtinDenial(rt, doc, RuleUnroutable, unroutableMessage(rt))
	case route.ContainerCreate:
		var err error
		if create, err = createreq.DecodeFor(req.RequestBody, a.daemonDialect(ctx)); err != nil {
			return builtinDenial(rt, doc, RuleBadCreateBody, BodyErrorMessage(err, req.RequestHeaders))
		}
		name = rt.Query.Get("name")
		img = a.Images.Image(ctx, create.Config.Image)
	case route.ServiceCreate, route.ServiceUpdate:
		// The task containers are created inside the daemon, past the
		// plugin: the service is decided as the create each task will be.
		svc, err := servicereq.Decode(req.RequestBody)
		if err != nil {
			return builtinDenial(rt, doc, RuleBadCreateBody, serviceBodyMessage(err))
		}
		name, create = cmp.Or(svc.Name, rt.ServiceRef), svc.Create
		doc = doc.WithService(name, svc.Stack)
		img = a.Images.Image(ctx, create.Config.Image)
	case route.ContainerStart:
		c, err := a.Started.Inspect(ctx, rt.ContainerRef)
		switch {
		case errors.Is(err, startreq.ErrNotFound):
			// dockerd answers 404 itself: there is nothing to start.
			return decided(rt, doc, policy.Result{})
		case err != nil:
			rec := builtinDenial(rt, doc, RuleEvalFailure, "")
			if errors.Is(err, context.DeadlineExceeded) {
				a.overloaded.Add(1)
				rec.Builtin = RuleOverloaded
			}
			rec.Msg, rec.Err = startUncheckedMessage(rec.Builtin, rt.ContainerRef, err), excerpt(redact.String(err.Error()), maxLoggedError)
			return rec
		}
		if f, ok := a.created.take(c.ID); ok && f.imageID == c.ImageID && f.generation == a.Engine.Generation() {
			// Allowed at create on this very image, under these policies.
			rec := decided(rt, doc, policy.Result{})
			rec.Reused, rec.Container, rec.Image = true, c.Name, c.Request.Config.Image
			return rec
		}
		name, create = c.Name, c.Request
		img = a.Images.ImageByID(ctx, c.ImageID, c.Request.Config.Image)
	}
	if create != nil {
		doc, img = a.container(ctx, doc, name, create, img, rt.Kind)
	}
	generation := a.Engine.Generation()
	res, evaluated, err := a.evaluate(ctx, doc)
	if err != nil {
		return a.undecided(ctx, rt, doc, img, err)
	}
	// What the operator's enforcement makes of the findings decides
	// whether the request would pass: a deny an exception skips, or a rule
	// set to warn, must not let through a create nobody saw the files of.
	ep := a.enforcement.Load()
	out := ep.Apply(res, enforce.SubjectOf(doc), time.Now())
	if len(out.Deny) == 0 && !out.WouldDeny && img.Index == nil && needsFiles(doc, img) && a.Images.Indexed() {
		// Never fail open: the rules allowed what they could not see.
		a.factsMissing.Add(1)
		rec := builtinDenial(rt, doc, RuleFactsMissing, factsMissingMessage(doc, img)).about(doc, img)
		rec.Demoted, rec.Skipped, rec.Expired, rec.Off = out.Demoted, out.Skipped, out.Expired, out.Off
		rec.input = evaluated
		return rec
	}
	rec := decided(rt, doc, policy.Result{Deny: out.Deny, Warn: out.Warn}).about(doc, img)
	rec.generation, rec.input = generation, evaluated
	rec.enforced(ep, out)
	return rec
}

func (a *Authorizer) timeout() time.Duration { return cmp.Or(a.Timeout, DefaultDecisionTimeout) }

// daemonDialect is how the daemon reads a create body, asked once: until
// the daemon answers, a body both dialects would read differently is
// refused rather than guessed.
func (a *Authorizer) daemonDialect(ctx context.Context) createreq.Dialect {
	if d := createreq.Dialect(a.dialect.Load()); d != createreq.EitherDaemon || a.DaemonAPI == nil {
		return d
	}
	v, err := a.DaemonAPI(ctx)
	if err != nil {
		return createreq.EitherDaemon
	}
	d := createreq.DialectOf(v)
	a.dialect.Store(int32(d))
	return d
}

// decides reports whether requests of kind k leave the fast path: the
// shipped rules decide creates, swarm service creates and updates, starts
// (when the authorizer can read the container) and plugin management, and a target that cannot be routed is
// never waved through.
func (a *Authorizer) decides(k route.Kind) bool {
	switch k {
	case route.ContainerCreate, route.ServiceCreate, route.ServiceUpdate, route.Plugin, route.Unparsable:
		return true
	case route.ContainerStart:
		return a.Started != nil
	}
	return false
}

// container is the normalize and facts step of a create, a start or a
// swarm service: the container as it will run in img, with the image's
// files when a verdict depends on them, and, for a container of this
// daemon, the container whose network it joins. A service's tasks run
// anywhere in the swarm: this daemon's containers say nothing of them.
func (a *Authorizer) container(ctx context.Context, doc input.Document, name string, create *container.CreateRequest, img imagefacts.Image, kind route.Kind) (input.Document, imagefacts.Image) {
	d := doc.WithImage(name, create, img)
	if img.Found && img.Index == nil && needsFiles(d, img) && a.Images.Indexed() {
		img = a.awaitFiles(ctx, img)
		d = doc.WithImage(name, create, img)
	}
	if kind == route.ServiceCreate || kind == route.ServiceUpdate {
		return d, img
	}
	return a.withNetworkFacts(ctx, d), img
}

// undecided is the record of a request the plugin could not decide: past
// its deadline (RuleOverloaded), or for any other reason (RuleEvalFailure).
// Either way it is denied: the plugin fails closed.
func (a *Authorizer) undecided(ctx context.Context, rt route.Route, doc input.Document, img imagefacts.Image, err error) Record {
	var rec Record
	if ctx.Err() != nil {
		a.overloaded.Add(1)
		rec = builtinDenial(rt, doc, RuleOverloaded, overloadedMessage(a.timeout(), err))
	} else {
		rec = builtinDenial(rt, doc, RuleEvalFailure, evalFailureMessage(err))
	}
	// An evaluation error can quote input values (a rule's to_number on a
	// label): what goes to dockerd's log and ours is redacted and bounded.
	rec.Err = excerpt(redact.String(err.Error()), maxLoggedError)
	return rec.about(doc, img)
}

// evaluate runs the policies on doc once the gate lets it, within ctx. It
// returns the document as the Rego value evaluated, which the decision log
// writes rather than building it again.
func (a *Authorizer) evaluate(ctx context.Context, doc input.Document) (policy.Result, ast.Value, error) {
	release, err := a.Gate.Enter(ctx)
	if err != nil {
		return policy.Result{}, nil, err
	}
	defer release()
	v := doc.Value()
	res, err := a.Engine.Evaluate(ctx, v)
	if res.Input != nil {
		// The equal input the decision was remembered under: the decision
		// log has encoded that very value before.
		v = res.Input
	}
	return res, v, err
}

// needsFiles reports whether a verdict on doc depends on its image's files:
// the container has a healthcheck to run (its program, its shell and what
// the shell runs must exist), and the daemon has the image to index. An
// image the daemon does not have cannot be created anyway.
func needsFiles(doc input.Document, img imagefacts.Image) bool {
	if img.Missing || doc.Container == nil {
		return false
	}
	f := doc.Container.Healthcheck.Form
	return f == input.FormCmd || f == input.FormShell
}

// awaitFiles waits for img's index as long as the decision's deadline
// allows, keeping evalReserve for the evaluation.
func (a *Authorizer) awaitFiles(ctx context.Context, img imagefacts.Image) imagefacts.Image {
	if img.Index != nil || !img.Found {
		return img
	}
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) <= evalReserve {
		return img
	}
	wctx, cancel := context.WithDeadline(ctx, deadline.Add(-evalReserve))
	defer cancel()
	return a.Images.AwaitIndex(wctx, img)
}

func callerOf(req authorization.Request) input.Caller {
	return input.Caller{User: req.User, AuthMethod: req.UserAuthNMethod, UserAgent: req.RequestHeaders["User-Agent"]}
}

// withNetworkFacts resolves, through the daemon, the container whose
// network namespace this one joins; or, for what may be a sidecar probing
// localhost from its own namespace, the app that owns the probed port, so
// the fix can name it.
func (a *Authorizer) withNetworkFacts(ctx context.Context, doc input.Document) input.Document {
	c := doc.Container
	switch {
	case a.Containers == nil:
	case c.Network.Mode == "container":
		doc = doc.WithNetworkTarget(a.Containers.Resolve(ctx, c.Network.Target))
	case c.MayBeSidecar() && c.LocalProbePort() != "":
		doc = doc.WithProbeApp(a.Containers.ByPort(ctx, c.LocalProbePort()))
	}
	return doc
}

func (a *Authorizer) log(ctx context.Context, rec Record) {
	if a.Log == nil {
		return
	}
	level := slog.LevelInfo
	if rec.fast {
		// Fast-path requests, which no rule looks at, would drown the log;
		// everything the policies decide is logged.
		level = slog.LevelDebug
	}
	switch {
	case rec.WouldDeny && rec.Mode == enforce.DryRun:
		// A dry run measures a policy on live traffic without anyone
		// noticing: its would-denies are for whoever turns debug on.
		level = slog.LevelDebug
	case rec.WouldDeny, len(rec.Demoted) > 0, len(rec.Expired) > 0:
		// Let through against a rule, or under an exception that ran out:
		// what an operator rolling out the plugin must see.
		level = slog.LevelWarn
	}
	if !a.Log.Enabled(ctx, level) {
		return
	}
	a.Log.LogAttrs(ctx, level, "decision", rec.Attrs()...)
}

package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/plugins"
	pbundle "github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/open-policy-agent/opa/v1/plugins/logs"
	"github.com/open-policy-agent/opa/v1/plugins/status"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// Bundle is one activated bundle: its name in the configuration, its
// manifest revision and the files it lays over the embedded set.
type Bundle struct {
	Name     string
	Revision string
	Layer    policy.Layer
}

// ApplyFunc validates the policy set with bundles laid over it (every
// active bundle, in name order, the new revision included) and, if it
// passes, makes it serve. It returns the served set's revision; on error
// the running set must stay.
type ApplyFunc func(ctx context.Context, bundles []Bundle) (revision string, err error)

// Options configure Start.
type Options struct {
	// Config is the OPA configuration file's content (YAML or JSON).
	// ${NAME} is replaced by the environment variable NAME first, as OPA
	// does, so credentials can stay out of the file.
	Config []byte
	// ID is the instance's ID in status and decision-log labels; a
	// random one when empty, as OPA does.
	ID string
	// Version is reported in the labels' version.
	Version string
	// Log receives the plugin's own messages and OPA's.
	Log *slog.Logger
}

// Hooks connect a started Fleet to the policies it feeds.
type Hooks struct {
	// Apply validates and installs a set with a new bundle revision.
	// Required.
	Apply ApplyFunc
	// OnActivated is called after a bundle revision was validated and
	// serves; OnRejected after one was rejected (it does not serve).
	// Either may be nil.
	OnActivated func(name, bundleRevision, setRevision string)
	OnRejected  func(name string, err error)
}

// Config is a parsed OPA configuration, checked before anything starts.
type Config struct {
	opts    Options
	manager *plugins.Manager
	bundles *pbundle.Config
	logs    *logs.Config
	status  *status.Config
}

// Fleet runs the bundle downloaders and OPA's decision-log and status
// plugins of one configuration.
//
// Why not OPA's bundle plugin: it activates a bundle into the manager's
// own store and compiler, which this plugin does not evaluate. Its
// activation compiles the bundle alone, without the embedded library, so
// a bundle of a team's rules that import data.hardened.lib would be
// refused there; it has no hook to veto an activation, so a bundle whose
// Rego tests fail would be reported as active while the old set serves;
// and the set would be compiled twice, with the catalog held twice. So
// Fleet drives OPA's downloader itself, with the configuration the bundle
// plugin would use (bundle.NewConfigBuilder: services, credentials,
// polling, size limits, and the signing block verified against `keys`),
// and hands each verified bundle to ApplyFunc, which validates it like a
// hot reload. The bundle status OPA's status plugin reports is the one
// kept here, so it says what serves: a rejected revision is an error
// there, with the reason. Decision logs go through OPA's logs plugin
// (Uploader), configured by decision_logs as for OPA.
type Fleet struct {
	cfg   *Config
	hooks Hooks
	log   *slog.Logger

	dmu         sync.Mutex // guards downloaders and stopped
	downloaders map[string]*download.Downloader
	stopped     bool

	mu      sync.Mutex // serializes activations, guards the fields below
	active  map[string]Bundle
	statuss map[string]*pbundle.Status
	// failLogged rate-limits the log of a bundle server that cannot be
	// reached, per bundle.
	failLogged map[string]time.Time
	// etags are those of the revisions serving: after a rejection the
	// downloader asks for the bundle again rather than being told it has
	// it (If-None-Match of the rejected one), as OPA's bundle plugin does,
	// so a rejection that was the host's (a test past its deadline on a
	// busy host) is tried again at the next poll.
	etags map[string]string
}

// envRef is ${NAME} in the configuration, as OPA substitutes it.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Parse checks an OPA configuration for what this plugin supports:
// services, keys, bundles, decision_logs, status and labels. discovery
// (a configuration that replaces itself) and the legacy single `bundle`
// are refused. Nothing is contacted.
func Parse(opts Options) (*Config, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	raw := envRef.ReplaceAllFunc(opts.Config, func(m []byte) []byte {
		return []byte(os.Getenv(string(envRef.FindSubmatch(m)[1])))
	})
	id := opts.ID
	if id == "" {
		id = newID()
	}
	logger := opaLogger{log: opts.Log.With("component", "opa")}
	m, err := plugins.New(raw, id, inmem.New(),
		plugins.Logger(logger), plugins.ConsoleLogger(logger),
		plugins.WithParserOptions(ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}),
		plugins.Info(ast.ObjectTerm(ast.Item(ast.StringTerm("version"), ast.StringTerm(opts.Version)))),
	)
	if err != nil {
		return nil, fmt.Errorf("OPA configuration: %w", err)
	}
	c := &Config{opts: opts, manager: m}
	mc := m.Config
	// OPA labels every status report and decision event with these (and
	// its own id and version): say which plugin, and which build, sent it.
	if mc.Labels == nil {
		mc.Labels = map[string]string{}
	}
	for k, v := range map[string]string{"app": "hardened-authz", "hardened_authz_version": opts.Version} {
		if _, set := mc.Labels[k]; !set {
			mc.Labels[k] = v
		}
	}
	switch {
	case mc.Discovery != nil:
		return nil, errors.New("OPA configuration: discovery is not supported: list the bundles, decision_logs and status in the file itself")
	case mc.Bundle != nil:
		return nil, errors.New("OPA configuration: the legacy `bundle` section is not supported: use `bundles: {NAME: {service, resource, signing}}`")
	case len(mc.Plugins) > 0:
		opts.Log.Warn("OPA configuration: custom plugins are ignored", "plugins", len(mc.Plugins))
	}
	if mc.Bundles != nil {
		if c.bundles, err = pbundle.NewConfigBuilder().WithBytes(mc.Bundles).WithServices(m.Services()).WithKeyConfigs(m.PublicKeys()).Parse(); err != nil {
			return nil, fmt.Errorf("OPA configuration: bundles: %w", err)
		}
		for name, src := range c.bundles.Bundles {
			if u, err := url.Parse(src.Resource); err == nil && u.Scheme == "file" {
				return nil, fmt.Errorf("OPA configuration: bundles.%s: file:// resources are not supported: serve the bundle over HTTP, or lay the directory over the policies with --policy", name)
			}
		}
	}
	if mc.DecisionLogs != nil {
		if c.logs, err = logs.NewConfigBuilder().WithBytes(mc.DecisionLogs).WithServices(m.Services()).WithPlugins(m.Plugins()).Parse(); err != nil {
			return nil, fmt.Errorf("OPA configuration: decision_logs: %w", err)
		}
	}
	if mc.Status != nil {
		if c.status, err = status.NewConfigBuilder().WithBytes(mc.Status).WithServices(m.Services()).WithPlugins(m.Plugins()).Parse(); err != nil {
			return nil, fmt.Errorf("OPA configuration: status: %w", err)
		}
	}
	return c, nil
}

// Bundles are the names of the configured bundles, sorted.
func (c *Config) Bundles() []string {
	if c.bundles == nil {
		return nil
	}
	names := make([]string, 0, len(c.bundles.Bundles))
	for n := range c.bundles.Bundles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UploadsDecisions reports whether the configuration has decision_logs:
// the decisions then go to Fleet.Uploader.
func (c *Config) UploadsDecisions() bool { return c.logs != nil }

// Start starts the decision-log and status plugins and the bundle
// downloaders, and returns at once: the bundles arrive in the background.
// Until the first one is validated the set that serves is the embedded
// one (with the --policy directories), which is a valid policy, so a
// bundle server that cannot be reached delays nothing and refuses
// nothing; the downloader retries with OPA's backoff (up to the bundle's
// max_delay_seconds) and the failures are logged. A bundle with
// `persist: true` that an earlier run activated is verified and validated
// again from disk first, so a restart while the server is away serves
// the last good revision rather than the embedded set.
func (c *Config) Start(ctx context.Context, h Hooks) (*Fleet, error) {
	if h.Apply == nil {
		return nil, errors.New("fleet: Hooks.Apply is nil")
	}
	f := &Fleet{cfg: c, hooks: h, log: c.opts.Log, active: map[string]Bundle{}, statuss: map[string]*pbundle.Status{}, failLogged: map[string]time.Time{}, etags: map[string]string{}, downloaders: map[string]*download.Downloader{}}
	m := c.manager
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("OPA plugin manager: %w", err)
	}
	if c.logs != nil {
		m.Register(logs.Name, logs.New(c.logs, m))
	}
	if c.status != nil {
		m.Register(status.Name, status.New(c.status, m))
	}
	if err := m.Start(ctx); err != nil {
		return nil, fmt.Errorf("OPA plugins: %w", err)
	}
	if c.bundles == nil {
		return f, nil
	}
	m.UpdatePluginStatus(pbundle.Name, &plugins.Status{State: plugins.StateNotReady})
	for _, name := range c.Bundles() {
		f.statuss[name] = &pbundle.Status{Name: name}
	}
	// A bundle kept by an earlier run serves before the first download
	// answers; in the background, as the downloads are, so that a slow
	// validation never holds the socket.
	go func() {
		f.loadPersisted(ctx)
		f.startDownloads(ctx)
	}()
	return f, nil
}

// startDownloads starts one OPA downloader per bundle.
func (f *Fleet) startDownloads(ctx context.Context) {
	m := f.cfg.manager
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if f.stopped {
		return
	}
	for _, name := range f.cfg.Bundles() {
		src := f.cfg.bundles.Bundles[name]
		d := download.New(src.Config, m.Client(src.Service), src.Resource).
			WithCallback(func(ctx context.Context, u download.Update) error { return f.update(ctx, name, u) }).
			WithBundleVerificationConfig(src.Signing).
			WithSizeLimitBytes(src.SizeLimitBytes).
			WithBundlePersistence(src.Persist).
			WithLazyLoadingMode(true).
			WithBundleName(name).
			WithBundleParserOpts(m.ParserOptions())
		if src.Signing == nil {
			f.log.Warn("bundle is not verified: add a signing block (keyid of a key under keys) to require a signature", "bundle", name)
		}
		f.downloaders[name] = d
		d.Start(ctx)
		f.log.Info("bundle download started", "bundle", name, "service", src.Service, "resource", src.Resource)
	}
}

// Stop stops the downloaders, then the plugins: the logs plugin sends
// what it buffered.
func (f *Fleet) Stop(ctx context.Context) {
	f.dmu.Lock()
	f.stopped = true
	ds := make([]*download.Downloader, 0, len(f.downloaders))
	for _, d := range f.downloaders {
		ds = append(ds, d)
	}
	f.dmu.Unlock()
	// Without dmu: a download's callback may be waiting for it, and Stop
	// waits for the callback.
	for _, d := range ds {
		d.Stop(ctx)
	}
	f.cfg.manager.Stop(ctx)
}

// Active are the revisions of the bundles serving, by name.
func (f *Fleet) Active() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]string, len(f.active))
	for n, b := range f.active {
		out[n] = b.Revision
	}
	return out
}

// update is the downloader's callback: a failed download, a server that
// says nothing changed, or a verified bundle to validate.
func (f *Fleet) update(ctx context.Context, name string, u download.Update) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.statuss[name]
	if u.Metrics != nil {
		st.Metrics = u.Metrics
	}
	st.SetRequest()
	defer f.reportStatus()
	if u.Error != nil {
		st.SetError(u.Error)
		if unreachable(u.Error) {
			if t, ok := f.failLogged[name]; !ok || time.Since(t) > time.Minute {
				f.failLogged[name] = time.Now()
				f.log.Warn("bundle server not reachable; the policies serving stay", "bundle", name, "error", u.Error.Error())
			}
			return u.Error
		}
		// The server answered with something that is not a valid bundle
		// of this configuration: a bad signature, a corrupt archive.
		f.reject(name, "", u.Error)
		return u.Error
	}
	delete(f.failLogged, name)
	st.LastSuccessfulRequest = st.LastRequest
	if u.Bundle == nil {
		st.SetError(nil) // 304 Not Modified
		return nil
	}
	st.SetDownloadSuccess()
	err := f.activateLocked(ctx, name, u.Bundle, u.Raw, u.Size)
	if err == nil {
		f.etags[name] = u.ETag
	} else {
		f.dmu.Lock()
		if d := f.downloaders[name]; d != nil && !f.stopped {
			d.SetCache(f.etags[name])
		}
		f.dmu.Unlock()
	}
	return err
}

// activate validates and installs a bundle read from elsewhere than the
// downloader (a persisted one).
func (f *Fleet) activate(ctx context.Context, name string, b *bundle.Bundle, raw io.Reader, size int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.reportStatus()
	return f.activateLocked(ctx, name, b, raw, size)
}

// activateLocked validates the set with b as bundle name's revision and
// makes it serve, or rejects it; f.mu held.
func (f *Fleet) activateLocked(ctx context.Context, name string, b *bundle.Bundle, raw io.Reader, size int) error {
	st := f.statuss[name]
	st.Type = b.Type()
	rev := b.Manifest.Revision
	layer, err := LayerOf(name, b)
	if err != nil {
		st.SetError(err)
		f.reject(name, rev, err)
		return err
	}
	bundles := make([]Bundle, 0, len(f.active)+1)
	for n, b := range f.active {
		if n != name {
			bundles = append(bundles, b)
		}
	}
	next := Bundle{Name: name, Revision: rev, Layer: layer}
	bundles = append(bundles, next)
	sort.Slice(bundles, func(i, j int) bool { return bundles[i].Name < bundles[j].Name })
	setRev, err := f.hooks.Apply(ctx, bundles)
	if err != nil {
		st.SetError(err)
		f.reject(name, rev, err)
		return err
	}
	f.active[name] = next
	st.SetError(nil)
	st.SetActivateSuccess(rev)
	st.SetBundleSize(size)
	f.save(name, raw)
	f.log.Info("bundle activated", "bundle", name, "bundle_revision", rev, "revision", setRev)
	if f.hooks.OnActivated != nil {
		f.hooks.OnActivated(name, rev, setRev)
	}
	if len(f.active) == len(f.statuss) {
		f.cfg.manager.UpdatePluginStatus(pbundle.Name, &plugins.Status{State: plugins.StateOK})
	}
	return nil
}

// reject logs a bundle that will not serve and tells OnRejected.
func (f *Fleet) reject(name, rev string, err error) {
	serving := "the embedded policies"
	if b, ok := f.active[name]; ok {
		serving = "revision " + b.Revision
	}
	f.log.Error("bundle rejected, the running policy stays", "bundle", name, "bundle_revision", rev, "serving", serving, "error", err.Error())
	if f.hooks.OnRejected != nil {
		f.hooks.OnRejected(name, err)
	}
}

// reportStatus hands the bundles' status to OPA's status plugin, which
// sends it with its next report.
func (f *Fleet) reportStatus() {
	sp := status.Lookup(f.cfg.manager)
	if sp == nil {
		return
	}
	cp := make(map[string]*pbundle.Status, len(f.statuss))
	for n, s := range f.statuss {
		c := *s
		cp[n] = &c
	}
	sp.BulkUpdateBundleStatus(cp)
}

// unreachable reports whether a download failed before a bundle was read:
// the server could not be reached or answered with an HTTP error. Those
// are retried and are not a rejected policy.
func unreachable(err error) bool {
	var he download.HTTPError
	var ue *url.Error
	return errors.As(err, &he) || errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || strings.HasPrefix(err.Error(), "request failed:")
}

package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/dockerhost"
	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/imagescan"
	"github.com/hardened-authz/hardened-authz/internal/netns"
	"github.com/hardened-authz/hardened-authz/internal/plugin"
	"github.com/hardened-authz/hardened-authz/internal/pluginref"
	"github.com/hardened-authz/hardened-authz/internal/startreq"
)

type serveOptions struct {
	socket          string
	dockerHost      string
	policyDirs      []string
	pluginName      string
	deadlines       imagefacts.Deadlines
	decisionTimeout time.Duration
	inspectTTL      time.Duration
	maxEvaluations  int
	logLevel        string
	logFormat       string
	stateDir        string
	reload          reloadOptions
	observe         observeOptions
	enforcement     enforcementOptions
	compat          compatOptions
	opa             opaOptions
}

func newServeCommand() *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Docker authorization plugin",
		Long: `Serve the Docker authorization plugin protocol on a unix socket.

dockerd finds a legacy plugin named NAME at /run/docker/plugins/NAME.sock or
through /etc/docker/plugins/NAME.spec; enable it in daemon.json with
  {"authorization-plugins": ["hardened-authz"]}
and send dockerd SIGHUP. Container creates are checked against the policies;
other requests are allowed on a fast path. SIGTERM or SIGINT stops accepting
calls, finishes the ones in flight and removes the socket.

SIGHUP, and with --watch any change in the --policy directories, reloads the
policies: the new set is compiled and its Rego tests run (as ` + "`authz policy test`" + `)
before it replaces the running one, which keeps serving if they fail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.socket, "socket", plugin.DefaultSocket, "unix socket to serve the plugin on; an absolute path is used as given")
	f.StringVar(&o.dockerHost, "docker-host", "", "daemon to ask for image facts (default: $DOCKER_HOST, else "+client.DefaultDockerHost+")")
	f.StringArrayVar(&o.policyDirs, "policy", nil, "directory of policies laid over the embedded ones: same relative path replaces, new files add (repeatable)")
	f.StringVar(&o.pluginName, "plugin-name", "hardened-authz", "this plugin's name in daemon.json, protected from disable/remove/set/upgrade (HA090)")
	f.DurationVar(&o.deadlines.Daemon, "daemon-timeout", imagefacts.PluginDeadlines.Daemon, "deadline for one call to the daemon (image and container inspect); past it the catalog decides")
	f.DurationVar(&o.decisionTimeout, "decision-timeout", authz.DefaultDecisionTimeout, "deadline for one decision; a decision past it is denied")
	f.IntVar(&o.maxEvaluations, "max-evaluations", authz.DefaultMaxEvaluations, "policy evaluations run at once; others wait in line, and the wait counts against --decision-timeout")
	f.StringVar(&o.stateDir, "state-dir", imagescan.DefaultStateDir, "directory for the image index cache, so a restart does not scan images again (\"\" keeps it in memory only)")
	f.DurationVar(&o.deadlines.Scan, "scan-timeout", imagefacts.PluginDeadlines.Scan, "how long a create waits for its image's index before image inspect and the catalog decide")
	f.DurationVar(&o.inspectTTL, "image-cache-ttl", imagefacts.DefaultInspectTTL, "reuse an image inspect for this long while the daemon's events report no image change (0: inspect on every create)")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error; debug logs every allowed request")
	f.StringVar(&o.logFormat, "log-format", "json", "json or text")
	o.reload.addFlags(cmd)
	o.observe.addFlags(cmd)
	o.enforcement.addFlags(cmd, "warn and dryrun allow what the policies deny and log it (at warn, at debug), except HA090")
	o.compat.addFlags(cmd)
	o.opa.addFlags(cmd)
	addSystemdHelp(cmd)
	bindEnv(cmd) // AUTHZ_MODE and the like: keep it after the last flag
	return cmd
}

func runServe(cmd *cobra.Command, o serveOptions) error {
	log, err := newLogger(cmd.ErrOrStderr(), o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	if err := o.deadlines.Validate(); err != nil {
		return usageError{err}
	}
	if o.inspectTTL < 0 {
		return usageError{fmt.Errorf("--image-cache-ttl %s: must be 0 (off) or positive (default %s)", o.inspectTTL, imagefacts.DefaultInspectTTL)}
	}
	if o.maxEvaluations <= 0 {
		return usageError{fmt.Errorf("--max-evaluations %d: must be positive (default %d)", o.maxEvaluations, authz.DefaultMaxEvaluations)}
	}
	if o.decisionTimeout <= 0 {
		return usageError{fmt.Errorf("--decision-timeout %s: must be positive (default %s)", o.decisionTimeout, authz.DefaultDecisionTimeout)}
	}
	if err := o.prepareOPA(log); err != nil {
		return err
	}
	if _, err := o.observe.validate(); err != nil {
		return err
	}
	enforcement, warnings, err := o.enforcement.load(time.Now())
	if err != nil {
		return err
	}
	for _, w := range warnings {
		log.Warn("exception expired", "detail", w)
	}
	ctx := cmd.Context()
	// The exceptions file reloads with the policies; the plugin it swaps
	// into exists once the policies are valid.
	var a *authz.Authorizer
	// The policy is the file's, with the exceptions of the active OPA
	// bundles added (--opa-config).
	sources := &enforcementSources{file: enforcement, set: func(p *enforce.Policy) { a.SetEnforcement(p) }}
	if step, ok := o.enforcement.reloadStep(sources.setFile, log); ok {
		o.reload.steps = append(o.reload.steps, step)
	}
	if o.opa.served != nil {
		o.opa.served.onExceptions = sources.setBundle
	}

	// The set serves only if it passes the validation every reload
	// passes: compiled, and its Rego tests green.
	compat, err := o.compat.start(ctx, &o.reload, func(c *authz.Compat) { a.SetCompat(c) }, log)
	if err != nil {
		return err
	}
	engine, err := validatedEngine(ctx, o.policyDirs, o.reload.steps)
	if err != nil {
		return err
	}
	if o.reload.checkOnly {
		return checkOnly(cmd.OutOrStdout(), engine)
	}
	cli, host, err := dockerhost.Connect(o.dockerHost, o.compat.clientOpts()...)
	if err != nil {
		return usageError{err}
	}
	defer cli.Close()
	// Compiling the policies and loading the catalog leaves several times
	// the engine's own size as garbage; a long-running plugin need not keep
	// those pages resident.
	debug.FreeOSMemory()

	scanner := imagescan.New(cli, o.stateDir, log)
	a = &authz.Authorizer{
		Engine:     engine,
		Images:     imageSource(cli, scanner, o.deadlines, o.inspectTTL),
		Warmer:     scanner,
		Containers: &netns.DaemonResolver{Client: cli, Timeout: o.deadlines.Daemon},
		DaemonAPI: func(ctx context.Context) (string, error) {
			ctx, cancel := context.WithTimeout(ctx, o.deadlines.Daemon)
			defer cancel()
			res, err := cli.Ping(ctx, client.PingOptions{})
			return res.APIVersion, err
		},
		Plugins:    &pluginref.DaemonResolver{Client: cli, Timeout: o.deadlines.Daemon},
		Started:    &startreq.DaemonInspector{Client: cli, Timeout: o.deadlines.Daemon},
		PluginName: o.pluginName,
		Timeout:    o.decisionTimeout,
		Gate:       authz.NewGate(o.maxEvaluations),
		Log:        log,
	}
	a.SetEnforcement(enforcement)
	a.SetCompat(compat)
	log.Info("enforcement", "mode", enforcement.Mode.String(), "exceptions", enforcement.Exceptions.Len(), "rule_modes", len(engine.RuleModes()))
	obs, err := startObservability(o.observe, a, scanner, engine, log)
	if err != nil {
		return err
	}
	defer obs.close()
	a.Observer = obs.observer()
	l, err := listenPlugin(o.socket, log)
	if err != nil {
		return err
	}
	obs.serve(ctx, log)
	log.Info("serving", "socket", l.Addr().String(), "docker_host", host, "policies", len(engine.Files()), "state_dir", o.stateDir, "version", version)
	// Index the local images once the socket serves, and every image that
	// arrives later (pull, load, import, tag, commit) as the daemon
	// announces it: the export and events calls go through this plugin too.
	go scanner.WarmAll(ctx)
	go scanner.WatchEvents(ctx)
	// The reload metrics (nil-safe without --metrics-addr).
	o.reload.onReloaded = obs.Metrics.PolicyReloaded
	o.reload.onRejected = func(error) { obs.Metrics.PolicyReloadFailed() }
	stopOPA, err := o.startOPA(ctx, engine, obs, a, log)
	if err != nil {
		return err
	}
	defer stopOPA()
	startReload(ctx, o.reload, o.policyDirs, engine, log)
	defer notifySystemd(ctx, log)()
	err = plugin.Serve(ctx, l, plugin.NewHandler(a, log), log)
	log.Info("stopped", "socket", l.Addr().String())
	return err
}

// imageSource is the plugin's: image inspects remembered for ttl while the
// scanner follows the daemon's image events (imagefacts.CachedInspector),
// or asked on every create when ttl is 0.
func imageSource(cli *client.Client, scanner *imagescan.Scanner, d imagefacts.Deadlines, ttl time.Duration) *imagefacts.Source {
	src := imagefacts.NewSource(cli, scanner, d)
	if ttl > 0 {
		cached := &imagefacts.CachedInspector{Inner: src.Inspector, TTL: ttl}
		scanner.WatchImages(cached)
		src.Inspector = cached
	}
	return src
}

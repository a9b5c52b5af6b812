package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/decisionlog"
	"github.com/hardened-authz/hardened-authz/internal/fleet"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// opaOptions is serve's --opa-config: the OPA management plane (bundles,
// decision-log upload, status) of a fleet.
type opaOptions struct {
	file string
	// cfg is the parsed configuration (load), nil without --opa-config.
	cfg *fleet.Config
	// served is the policy set the bundles and the reloads share.
	served *servedSet
}

func (o *opaOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.file, "opa-config", "", "OPA configuration file (services, keys, bundles, decision_logs, status): pull signed policy bundles and upload decisions as OPA does")
}

// load reads and checks --opa-config before anything starts, so a
// mistake in it is a usage error and not a plugin that serves without
// its bundles.
func (o *opaOptions) load(log *slog.Logger) error {
	if o.file == "" {
		return nil
	}
	raw, err := os.ReadFile(o.file)
	if err != nil {
		return usageError{fmt.Errorf("--opa-config: %w", err)}
	}
	cfg, err := fleet.Parse(fleet.Options{Config: raw, Version: version, Log: log})
	if err != nil {
		return usageError{fmt.Errorf("--opa-config %s: %w", o.file, err)}
	}
	o.cfg = cfg
	return nil
}

// prepareOPA loads --opa-config and sets up what it changes in the other
// options, before the policies are compiled: the served set shared by
// reloads and bundles, the decision log's bundle revisions, and --mask
// allowed for the upload alone.
func (o *serveOptions) prepareOPA(log *slog.Logger) error {
	if err := o.opa.load(log); err != nil {
		return err
	}
	if o.opa.cfg == nil {
		return nil
	}
	o.opa.served = newServedSet(o.policyDirs)
	o.reload.served = o.opa.served
	o.observe.bundles = o.opa.served.bundlesOf
	o.observe.uploads = o.opa.cfg.UploadsDecisions()
	return nil
}

// startOPA starts the management plane of --opa-config, if any: bundles
// validated into engine as hot reloads are (counted in the reload
// metrics), and decisions uploaded, masked as the local log masks them.
// The returned stop sends what is buffered; call it after serving.
func (o *serveOptions) startOPA(ctx context.Context, engine *policy.Engine, obs *observability, a *authz.Authorizer, log *slog.Logger) (stop func(), err error) {
	if o.opa.cfg == nil {
		return func() {}, nil
	}
	masks, err := o.observe.validate()
	if err != nil {
		return nil, err
	}
	fl, err := o.opa.cfg.Start(ctx, fleet.Hooks{
		Apply:       o.opa.served.activate(engine),
		OnActivated: func(_, _, rev string) { obs.Metrics.PolicyReloaded(rev) },
		OnRejected:  func(string, error) { obs.Metrics.PolicyReloadFailed() },
	})
	if err != nil {
		return nil, err
	}
	up := fl.Uploader(o.observe.logOptions(masks, a.PluginName, engine, log))
	if up != nil {
		if a.Observer != nil {
			a.Observer = authz.Observers{a.Observer, up}
		} else {
			a.Observer = up
		}
	}
	log.Info("OPA management plane on", "config", o.opa.file, "bundles", o.opa.cfg.Bundles(), "decision_upload", up != nil)
	return func() {
		if up != nil {
			up.Close()
		}
		// The logs plugin sends its last batch on Stop; a collector that
		// does not answer must not hold the plugin's exit for long.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		fl.Stop(sctx)
	}, nil
}

// logOptions are the decision log's options: the local file's and the
// upload's, so both are masked and labelled alike.
func (o observeOptions) logOptions(masks []decisionlog.Mask, pluginName string, engine *policy.Engine, log *slog.Logger) decisionlog.Options {
	return decisionlog.Options{
		Masks:    masks,
		Labels:   map[string]string{"app": "hardened-authz", "version": version, "plugin_name": pluginName},
		Revision: func(g uint64) string { return revisionOf(engine, g) },
		Bundles:  o.bundles,
		Log:      log,
	}
}

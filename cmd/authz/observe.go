package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/decisionlog"
	"github.com/hardened-authz/hardened-authz/internal/imagescan"
	"github.com/hardened-authz/hardened-authz/internal/metrics"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// observeOptions are the flags of `authz serve` for the decision log and
// the metrics; all are off by default.
type observeOptions struct {
	decisionLog string
	masks       []string
	metricsAddr string
	// uploads says that --opa-config uploads the decisions (--mask
	// applies there too); bundles names a generation's OPA bundles.
	uploads bool
	bundles func(generation uint64) map[string]string
}

func (o *observeOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.decisionLog, "decision-log", "", "append one JSON line per decision the policies made to FILE (\"-\" for standard output); SIGUSR1 reopens FILE")
	f.StringArrayVar(&o.masks, "mask", nil, "mask this path of the logged input, such as /container/labels/secret* (repeatable; see docs/operations.md)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics, /healthz and /readyz on this address, such as 127.0.0.1:9323")
}

// validate checks the flags before anything starts: a mistake is a usage
// error, found before the policies are compiled.
func (o observeOptions) validate() ([]decisionlog.Mask, error) {
	var masks []decisionlog.Mask
	for _, p := range o.masks {
		m, err := decisionlog.ParseMask(p)
		if err != nil {
			return nil, usageError{fmt.Errorf("--mask: %w", err)}
		}
		masks = append(masks, m)
	}
	if len(masks) > 0 && o.decisionLog == "" && !o.uploads {
		return nil, usageError{errors.New("--mask applies to the decision log: give --decision-log too")}
	}
	return masks, nil
}

// observability is what --decision-log and --metrics-addr set up: the
// observers of the authorizer, the metrics listener, and the readiness
// /readyz reports.
type observability struct {
	decisions *decisionlog.Logger // nil without --decision-log
	// Metrics is nil without --metrics-addr; its hooks (PolicyReloaded,
	// PolicyReloadFailed, …) do nothing then.
	Metrics  *metrics.Metrics
	listener net.Listener
	// listening is true while the plugin socket accepts calls.
	listening atomic.Bool
}

// startObservability validates the flags and opens the decision log and
// the metrics address, so that a mistake stops the plugin before it
// serves. Call close when done.
func startObservability(o observeOptions, a *authz.Authorizer, scanner *imagescan.Scanner, engine *policy.Engine, log *slog.Logger) (*observability, error) {
	ob := &observability{}
	masks, err := o.validate()
	if err != nil {
		return nil, err
	}
	if o.decisionLog != "" {
		dl, err := decisionlog.Open(o.decisionLog, o.logOptions(masks, a.PluginName, engine, log))
		if err != nil {
			return nil, err
		}
		ob.decisions = dl
	}
	if o.metricsAddr != "" {
		l, err := metrics.Listen(o.metricsAddr)
		if err != nil {
			ob.close()
			return nil, err
		}
		ob.listener = l
		src := metrics.Sources{Authorizer: a, Scanner: scanner}
		if ob.decisions != nil {
			src.DecisionLogDropped = ob.decisions.Dropped
		}
		ob.Metrics = metrics.New(src)
		ob.Metrics.SetPolicyRevision(engine.Revision())
		scanner.ObserveScans(ob.Metrics.ObserveScan)
	}
	return ob, nil
}

// revisionOf is the revision of the policy set of generation g, if it
// still serves; "" once a reload replaced it, rather than a revision that
// did not decide. Generations only grow, so the same generation before
// and after reading the revision means the revision is that set's.
func revisionOf(e *policy.Engine, g uint64) string {
	if e.Generation() != g {
		return ""
	}
	r := e.Revision()
	if e.Generation() != g {
		return ""
	}
	return r
}

// observer is what the authorizer tells of each decision: nil when both
// are off, so the request path does not even make the call.
func (ob *observability) observer() authz.Observer {
	var obs authz.Observers
	if ob.Metrics != nil {
		obs = append(obs, ob.Metrics)
	}
	if ob.decisions != nil {
		obs = append(obs, ob.decisions)
	}
	switch len(obs) {
	case 0:
		return nil
	case 1:
		return obs[0]
	}
	return obs
}

// serve starts the metrics server and the SIGUSR1 reopening of the
// decision log, until ctx is done. The plugin socket listens from now on.
func (ob *observability) serve(ctx context.Context, log *slog.Logger) {
	ob.listening.Store(true)
	go func() {
		<-ctx.Done()
		ob.listening.Store(false) // stopping: no longer ready
	}()
	if ob.decisions != nil {
		onReopenSignal(ctx, func() {
			if err := ob.decisions.Reopen(); err != nil {
				log.Warn("decision log: SIGUSR1: cannot reopen; still writing to the old file", "error", err.Error())
				return
			}
			log.Info("decision log: reopened on SIGUSR1", "path", ob.decisionsPath())
		})
	}
	if ob.listener != nil {
		log.Info("serving metrics", "address", ob.listener.Addr().String())
		go func() {
			if err := metrics.Serve(ctx, ob.listener, ob.Metrics.Handler(ob.ready), log); err != nil {
				log.Error("metrics server stopped", "error", err.Error())
			}
		}()
	}
}

func (ob *observability) decisionsPath() string {
	if ob.decisions == nil {
		return ""
	}
	return ob.decisions.Path()
}

// ready is /readyz: the policies are loaded (the engine exists before
// anything serves) and the plugin socket accepts calls.
func (ob *observability) ready() error {
	if !ob.listening.Load() {
		return errors.New("the plugin socket is not listening")
	}
	return nil
}

// close closes the decision log once the plugin has stopped deciding, and
// the metrics listener (again, if the server already did).
func (ob *observability) close() {
	if ob.decisions != nil {
		_ = ob.decisions.Close()
	}
	if ob.listener != nil {
		_ = ob.listener.Close()
	}
}

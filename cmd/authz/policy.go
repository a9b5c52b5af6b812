package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/reload"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

func newPolicyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Validate policy sets as `authz serve` does",
		Args:  cobra.NoArgs,
	}
	var verbose bool
	test := &cobra.Command{
		Use:   "test [DIR]...",
		Short: "Compile the embedded policies with DIRs laid over them and run their Rego tests",
		Long: `Validate the policy set ` + "`authz serve --policy DIR...`" + ` would serve, exactly as
it validates it at start and at every reload: compile the embedded policies
with each DIR laid over them (type-checked against the input schema), run the
shipped Rego tests, and run the *_test.rego files of the DIRs against the
whole set. Exit 0 when the set would be served, 1 when it would be rejected
(each problem as file:line), 2 on a usage error.`,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			for _, d := range dirs {
				st, err := os.Stat(d)
				if err != nil {
					return usageError{err}
				}
				if !st.IsDir() {
					return usageError{fmt.Errorf("%s is not a directory: pass the directory that holds the .rego files", d)}
				}
			}
			return runPolicyTest(cmd.Context(), cmd.OutOrStdout(), dirs, verbose)
		},
	}
	test.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every test, not only the ones that did not pass")
	cmd.AddCommand(test)
	return cmd
}

// runPolicyTest prints the tests as `opa test` does: the ones that did not
// pass (every one with verbose), then the counts.
func runPolicyTest(ctx context.Context, w io.Writer, dirs []string, verbose bool) error {
	v, err := policy.Validate(ctx, policySources(dirs))
	var ve *policy.ValidationError
	switch {
	case errors.As(err, &ve) && len(ve.Tests) == 0:
		return err // did not compile: main prints the problems
	case err != nil && ve == nil:
		return err
	}
	var (
		tests []policy.TestResult
		rev   string
	)
	if v != nil {
		tests, rev = v.Tests, v.Revision()
	} else {
		tests, rev = ve.Tests, ve.Revision
	}
	counts := map[string]int{}
	for _, t := range tests {
		counts[t.Outcome]++
		if verbose || t.Outcome == policy.OutcomeFail || t.Outcome == policy.OutcomeError {
			fmt.Fprintf(w, "%s:%d: %s: %s (%s)\n", t.File, t.Line, t.Name, t.Outcome, t.Duration)
			if t.Error != "" {
				fmt.Fprintf(w, "  %s\n", t.Error)
			}
		}
	}
	fmt.Fprintln(w, strings.Repeat("-", 80))
	for _, o := range []string{policy.OutcomePass, policy.OutcomeFail, policy.OutcomeSkipped, policy.OutcomeError} {
		if counts[o] > 0 {
			fmt.Fprintf(w, "%s: %d/%d\n", o, counts[o], len(tests))
		}
	}
	if err != nil {
		return fmt.Errorf("policy set %s rejected: %d of %d tests did not pass", rev, len(ve.Problems), len(tests))
	}
	fmt.Fprintf(w, "policy set %s: valid\n", rev)
	return nil
}

// policySources are the embedded policies with dirs laid over them.
func policySources(dirs []string) policy.Sources {
	return policy.Sources{Library: rego.FS, Rules: policies.FS, Overrides: dirs}
}

// servedSources are policySources as serve validates them, at start and at
// every reload: the tests of dirs run, the binary's own do not (see
// policy.Sources.TrustShipped; `authz policy test` runs them).
func servedSources(dirs []string) policy.Sources {
	src := policySources(dirs)
	src.TrustShipped = true
	return src
}

// reloadStep is one more piece of configuration validated and swapped
// together with the policies at start and at every reload (the
// exceptions file): a change is taken only when every step accepts it.
type reloadStep struct {
	// Name is for messages ("--exceptions FILE").
	Name string
	// Files are watched for changes, besides the --policy directories.
	Files []string
	// Prepare reads and validates the configuration. changed says that
	// it differs from the one in use; commit swaps it in and is only
	// called, at a reload, once every step and the policies are valid.
	// At start (and for --check-only) Prepare only validates.
	Prepare func(ctx context.Context) (commit func(), changed bool, err error)
}

// reloadOptions are serve's flags and hooks for validated hot reload.
type reloadOptions struct {
	watch     bool
	checkOnly bool
	// steps, onReloaded and onRejected are set by serve's wiring
	// (exceptions, metrics); all may be empty.
	steps      []reloadStep
	onReloaded func(revision string)
	onRejected func(err error)
	// served, when set, is the set the reloads share with the OPA
	// bundles (--opa-config); nil reloads the --policy directories alone.
	served *servedSet
}

func (o *reloadOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&o.watch, "watch", true, "reload the --policy directories when their files change (SIGHUP always reloads)")
	f.BoolVar(&o.checkOnly, "check-only", false, "load and validate the policies (and their tests) as serve would, then exit 0 if valid, 1 if not")
}

// validatedEngine validates the policies and the steps as a reload would
// and returns the engine serving them. The steps are only validated:
// serve's own set-up installs what they read at start.
func validatedEngine(ctx context.Context, dirs []string, steps []reloadStep) (*policy.Engine, error) {
	v, err := policy.Validate(ctx, servedSources(dirs))
	if err != nil {
		return nil, err
	}
	if _, err := prepareSteps(ctx, steps); err != nil {
		return nil, err
	}
	return policy.NewValidated(v), nil
}

// prepareSteps validates every step and returns the commits of those
// that changed. Nothing is committed here: a reload commits only when
// everything is valid.
func prepareSteps(ctx context.Context, steps []reloadStep) ([]func(), error) {
	var commits []func()
	for _, s := range steps {
		commit, changed, err := s.Prepare(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		if changed && commit != nil {
			commits = append(commits, commit)
		}
	}
	return commits, nil
}

// checkOnly reports on a set validated by validatedEngine, for serve
// --check-only.
func checkOnly(w io.Writer, e *policy.Engine) error {
	_, err := fmt.Fprintf(w, "policy set %s: valid (%d files)\n", e.Revision(), len(e.Files()))
	return err
}

// policyApply is a reload: validate what the files say now and swap it in
// when it differs from what serves (servedSet.apply, without bundles).
func policyApply(e *policy.Engine, dirs []string, steps []reloadStep) reload.ApplyFunc {
	return newServedSet(dirs).apply(e, steps)
}

// startReload reloads the policies on SIGHUP and, with --watch, when the
// files of the --policy directories or of the steps change, until ctx is
// done.
func startReload(ctx context.Context, o reloadOptions, dirs []string, e *policy.Engine, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var files []string
	for _, s := range o.steps {
		files = append(files, s.Files...)
	}
	cfg := reload.Config{
		Dirs:       dirs,
		Files:      files,
		Watch:      o.watch,
		Signals:    hup,
		Apply:      policyApply(e, dirs, o.steps),
		Log:        log,
		OnReloaded: o.onReloaded,
		OnRejected: o.onRejected,
	}
	if o.served != nil {
		cfg.Apply = o.served.apply(e, o.steps)
	}
	w, err := reload.New(cfg)
	if err != nil {
		// The plugin serves without watching rather than not at all
		// (inotify instances exhausted); SIGHUP still reloads.
		log.Error("policy files not watched, reload with SIGHUP", "error", err.Error())
		cfg.Watch = false
		if w, err = reload.New(cfg); err != nil {
			signal.Stop(hup)
			log.Error("policy reload off", "error", err.Error())
			return
		}
	}
	log.Info("policy reload on", "revision", e.Revision(), "watch", cfg.Watch && len(dirs)+len(files) > 0, "watching", len(w.Watching()))
	go func() {
		defer signal.Stop(hup)
		_ = w.Run(ctx)
	}()
}

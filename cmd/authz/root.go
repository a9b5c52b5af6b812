package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/dockerhost"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ error }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "authz",
		Short: "Keep healthchecks working in hardened images: a Docker authorization plugin and compose checker",
		Long: `hardened-authz evaluates Rego policies on Docker container creates and
denies healthchecks that cannot run in the image (no shell, no curl), with
the exact fix in the message: a hardened curl sidecar that shares the app's
network namespace.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	// --cpuprofile is for measuring the command itself (start-up,
	// compiling, loading, evaluation), so it is not in the help.
	root.PersistentFlags().String("cpuprofile", "", "write a CPU profile of the command to this file")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = startProfile
	root.AddCommand(newServeCommand(), newImageCommand(), newCheckCommand(), newCatalogCommand(), newPolicyCommand(), newBenchCommand(), newBundleCommand())
	return root
}

// newLogger builds the structured logger every command shares.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want json or text", format)}
}

// newEngine compiles the embedded policies with the --policy directories
// laid over them. The embedded set alone is not type-checked again: it
// was where the binary was built (policy.Sources.TypeCheckedShipped).
func newEngine(ctx context.Context, policyDirs []string) (*policy.Engine, error) {
	return policy.New(ctx, policy.Sources{Library: rego.FS, Rules: policies.FS, Overrides: policyDirs, TypeCheckedShipped: true})
}

// engineAndDaemon is the set-up `authz serve` and `authz image` share: the
// compiled policies, and a client of the daemon they ask (close it) with
// its address for messages.
func engineAndDaemon(ctx context.Context, policyDirs []string, dockerHost string) (*policy.Engine, *client.Client, string, error) {
	engine, err := newEngine(ctx, policyDirs)
	if err != nil {
		return nil, nil, "", err
	}
	cli, host, err := dockerhost.Connect(dockerHost)
	if err != nil {
		return nil, nil, "", usageError{err}
	}
	return engine, cli, host, nil
}

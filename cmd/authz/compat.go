package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/opadockerauthz"
)

// compatOptions are serve's flags for running an opa-docker-authz policy
// beside the plugin's own (see docs/migrating-from-opa-docker-authz.md).
type compatOptions struct {
	policyFile string
	// self marks the plugin's own calls to dockerd, once start made it.
	self opadockerauthz.SelfToken
}

func (o *compatOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.policyFile, "opa-docker-authz-policy", "",
		"an opa-docker-authz policy file (data.docker.authz.allow, on opa-docker-authz's input) that must also allow every request; reloaded with the policies (HA095)")
}

// start compiles the opa-docker-authz policy, if one is given, and makes
// it part of every policy reload (SIGHUP, --watch): a changed file is
// compiled, and swapped in through set only when it and everything else
// reloaded is valid; a file that no longer compiles leaves the running
// policy serving. It returns what serve installs at start, nil without the
// flag. A policy that does not compile is a start-up error naming the
// file and line.
func (o *compatOptions) start(ctx context.Context, reload *reloadOptions, set func(*authz.Compat), log *slog.Logger) (*authz.Compat, error) {
	if o.policyFile == "" {
		return nil, nil
	}
	src, err := os.ReadFile(o.policyFile)
	if err != nil {
		return nil, usageError{fmt.Errorf("--opa-docker-authz-policy: %w", err)}
	}
	p, err := opadockerauthz.Compile(ctx, o.policyFile, src)
	if err != nil {
		return nil, fmt.Errorf("--opa-docker-authz-policy %s does not compile; fix it and start again:\n%w", o.policyFile, err)
	}
	if o.self, err = opadockerauthz.NewSelfToken(); err != nil {
		return nil, err
	}
	last := src
	reload.steps = append(reload.steps, reloadStep{
		Name:  "--opa-docker-authz-policy " + o.policyFile,
		Files: []string{o.policyFile},
		Prepare: func(ctx context.Context) (func(), bool, error) {
			src, err := os.ReadFile(o.policyFile)
			if err != nil {
				return nil, false, err
			}
			if bytes.Equal(src, last) {
				return nil, false, nil
			}
			p, err := opadockerauthz.Compile(ctx, o.policyFile, src)
			if err != nil {
				return nil, false, err
			}
			return func() {
				last = src
				set(&authz.Compat{Policy: p, Self: o.self})
				log.Info("opa-docker-authz policy reloaded", "file", o.policyFile, "revision", p.Revision())
				warnCompat(log, p)
			}, true, nil
		},
	})
	log.Info("opa-docker-authz policy", "file", o.policyFile, "revision", p.Revision(), "query", opadockerauthz.Query)
	warnCompat(log, p)
	return &authz.Compat{Policy: p, Self: o.self}, nil
}

// warnCompat logs what the policy may decide differently than under
// opa-docker-authz: it serves all the same, as written.
func warnCompat(log *slog.Logger, p *opadockerauthz.Policy) {
	for _, w := range p.Warnings() {
		log.Warn("opa-docker-authz policy decides differently here", "file", p.File(), "detail", w)
	}
}

// clientOpts are the Docker client's options for the plugin's own calls:
// with an opa-docker-authz policy, the header that exempts them from it.
func (o *compatOptions) clientOpts() []client.Opt {
	if h := o.self.Headers(); h != nil {
		return []client.Opt{client.WithHTTPHeaders(h)}
	}
	return nil
}

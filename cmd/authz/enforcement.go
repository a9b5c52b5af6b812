package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/enforce"
)

// enforcementOptions are --mode and --exceptions, which `authz serve`
// and `authz check` share.
type enforcementOptions struct {
	mode       string
	exceptions string
}

func (o *enforcementOptions) addFlags(cmd *cobra.Command, modeHelp string) {
	f := cmd.Flags()
	f.StringVar(&o.mode, "mode", enforce.Modes[0], "enforcement mode: "+strings.Join(enforce.Modes, ", ")+"; "+modeHelp)
	f.StringVar(&o.exceptions, "exceptions", "", "YAML or JSON file of operator exceptions: findings of the listed rules on matching images, compose services or containers are skipped, with the reason (see docs/operations.md)")
}

// load builds the enforcement policy the flags describe. The warnings
// name exceptions that have already expired. A reload of the exceptions
// file calls it again and swaps the result in
// (authz.Authorizer.SetEnforcement); on error the running policy stays.
func (o *enforcementOptions) load(now time.Time) (*enforce.Policy, []string, error) {
	mode, err := enforce.ParseMode(o.mode)
	if err != nil {
		return nil, nil, usageError{err}
	}
	p := &enforce.Policy{Mode: mode}
	if o.exceptions == "" {
		return p, nil, nil
	}
	x, warnings, err := enforce.LoadExceptions(o.exceptions, now)
	if err != nil {
		return nil, nil, usageError{err}
	}
	p.Exceptions = x
	return p, warnings, nil
}

// reloadStep makes the --exceptions file part of every policy reload:
// read and validated with the policies, and swapped in through set only
// when its content changed and everything else is valid. Without
// --exceptions there is no step.
func (o *enforcementOptions) reloadStep(set func(*enforce.Policy), log *slog.Logger) (reloadStep, bool) {
	if o.exceptions == "" {
		return reloadStep{}, false
	}
	// What serves from the start: the first reload with the same bytes
	// changes nothing.
	last, _ := os.ReadFile(o.exceptions)
	return reloadStep{
		Name:  "--exceptions " + o.exceptions,
		Files: []string{o.exceptions},
		Prepare: func(context.Context) (func(), bool, error) {
			data, err := os.ReadFile(o.exceptions)
			if err != nil {
				return nil, false, err
			}
			mode, err := enforce.ParseMode(o.mode)
			if err != nil {
				return nil, false, err
			}
			x, warnings, err := enforce.ParseExceptions(o.exceptions, data, time.Now())
			if err != nil {
				return nil, false, err
			}
			p := &enforce.Policy{Mode: mode, Exceptions: x}
			changed := !bytes.Equal(data, last)
			return func() {
				last = data
				set(p)
				log.Info("exceptions reloaded", "file", o.exceptions, "exceptions", p.Exceptions.Len())
				for _, w := range warnings {
					log.Warn("exception expired", "detail", w)
				}
			}, changed, nil
		},
	}, true
}

// enforcementSources is what serve's enforcement policy is made of: the
// mode and --exceptions file, reloaded with the policies, and the
// exceptions the active OPA bundles carry. Either may change while the
// other stays; each change sets the policy both make (set), under a lock
// so that two changes at once cannot swap in a stale mix.
type enforcementSources struct {
	mu     sync.Mutex
	file   *enforce.Policy
	bundle *enforce.Exceptions
	set    func(*enforce.Policy)
}

// setFile takes a new mode and --exceptions file.
func (s *enforcementSources) setFile(p *enforce.Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file = p
	s.applyLocked()
}

// setBundle takes the exceptions of the bundles now active.
func (s *enforcementSources) setBundle(x *enforce.Exceptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bundle = x
	s.applyLocked()
}

func (s *enforcementSources) applyLocked() {
	if s.bundle.Len() == 0 {
		s.set(s.file)
		return
	}
	s.set(&enforce.Policy{Mode: s.file.Mode, Exceptions: enforce.Merge(s.file.Exceptions, s.bundle)})
}

package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/fleet"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/reload"
)

// servedSet is what serve validates and swaps in, from two triggers that
// may fire at once: a reload of the --policy directories (SIGHUP,
// --watch) and a new OPA bundle revision (--opa-config). The set is the
// embedded policies, the active bundles laid over them in name order,
// then the --policy directories: the host's own directories come last,
// so a host can add its local catalog entries or pin a rule over what the
// fleet ships, and an operator who passes --policy on one host sees it
// win there. Both triggers validate and install under mu, each with the
// other's latest input, so neither swaps back a set the other replaced.
type servedSet struct {
	dirs []string

	mu      sync.Mutex
	bundles []fleet.Bundle // guarded by mu

	// installed says which bundles the set of a generation carries, for
	// the decision log's "bundles".
	installed atomic.Pointer[servedGeneration]

	// onExceptions, when set, is handed the exceptions the active bundles
	// carry (bundleExceptionsFile) each time a set with bundles is
	// installed: serve merges them with its --exceptions file.
	onExceptions func(*enforce.Exceptions)
}

// bundleExceptionsFile is where a bundle carries operator exceptions, in
// the --exceptions file's format, as JSON (authz bundle build
// --exceptions puts them there): they travel with the rules they excuse.
const bundleExceptionsFile = "exceptions/data.json"

// bundleExceptions reads the exceptions of bundles, in name order; an
// exceptions file that does not parse rejects the set it came with.
func bundleExceptions(bundles []fleet.Bundle, now time.Time) (*enforce.Exceptions, error) {
	var xs []*enforce.Exceptions
	for _, b := range bundles {
		raw, ok := b.Layer.Files[bundleExceptionsFile]
		if !ok {
			continue
		}
		x, _, err := enforce.ParseExceptions(b.Layer.Origin+bundleExceptionsFile, raw, now)
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	return enforce.Merge(xs...), nil
}

type servedGeneration struct {
	generation uint64
	bundles    map[string]string
}

func newServedSet(dirs []string) *servedSet { return &servedSet{dirs: dirs} }

// sourcesLocked are the sources of the set with bundles; s.mu held.
func (s *servedSet) sourcesLocked(bundles []fleet.Bundle) policy.Sources {
	src := servedSources(s.dirs)
	for _, b := range bundles {
		src.Layers = append(src.Layers, b.Layer)
	}
	return src
}

// noteLocked records that e's current generation carries s.bundles.
func (s *servedSet) noteLocked(e *policy.Engine) {
	if len(s.bundles) == 0 {
		s.installed.Store(nil)
		return
	}
	revs := make(map[string]string, len(s.bundles))
	for _, b := range s.bundles {
		revs[b.Name] = b.Revision
	}
	s.installed.Store(&servedGeneration{generation: e.Generation(), bundles: revs})
}

// bundlesOf are the bundle revisions of generation g's set, nil when it
// had none or no longer serves (as revisionOf does).
func (s *servedSet) bundlesOf(g uint64) map[string]string {
	if cur := s.installed.Load(); cur != nil && cur.generation == g {
		return cur.bundles
	}
	return nil
}

// activate is fleet.ApplyFunc: validate the set with bundles (the
// --policy directories as they are now) and install it.
func (s *servedSet) activate(e *policy.Engine) fleet.ApplyFunc {
	return func(ctx context.Context, bundles []fleet.Bundle) (string, error) {
		// Bounded as a reload is: a bundle whose tests loop is rejected.
		ctx, cancel := context.WithTimeout(ctx, reload.DefaultTimeout)
		defer cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		x, err := bundleExceptions(bundles, time.Now())
		if err != nil {
			return "", err
		}
		v, err := policy.Validate(ctx, s.sourcesLocked(bundles))
		if err != nil {
			return "", err
		}
		e.Install(v)
		s.bundles = bundles
		s.noteLocked(e)
		if s.onExceptions != nil {
			s.onExceptions(x)
		}
		return e.Revision(), nil
	}
}

// apply is a reload of the --policy directories (and the steps) with the
// active bundles: validate what the files say now and swap it in when it
// differs from what serves. A set whose bytes did not change is not
// compiled again.
func (s *servedSet) apply(e *policy.Engine, steps []reloadStep) reload.ApplyFunc {
	return func(ctx context.Context) (string, bool, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		src := s.sourcesLocked(s.bundles)
		rev, err := policy.SourceRevision(src)
		if err != nil {
			return "", false, err
		}
		var v *policy.Validated
		if rev != e.Revision() {
			if v, err = policy.Validate(ctx, src); err != nil {
				return "", false, err
			}
		}
		commits, err := prepareSteps(ctx, steps)
		if err != nil {
			return "", false, err
		}
		for _, c := range commits {
			c()
		}
		if v != nil {
			e.Install(v)
			s.noteLocked(e)
		}
		return e.Revision(), v != nil || len(commits) > 0, nil
	}
}

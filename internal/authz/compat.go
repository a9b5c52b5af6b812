package authz

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/opadockerauthz"
	"github.com/hardened-authz/hardened-authz/internal/redact"
)

// RuleCompat denies a request that the opa-docker-authz policy (serve
// --opa-docker-authz-policy) does not allow: its data.docker.authz.allow
// is false, undefined, not a boolean, or failed to evaluate.
const RuleCompat = "HA095"

// Compat is an opa-docker-authz policy run beside the plugin's own: a
// request passes only if both allow it.
type Compat struct {
	// Policy is the compiled opa-docker-authz policy.
	Policy *opadockerauthz.Policy
	// Self marks the plugin's own calls to dockerd, which the policy does
	// not see (see opadockerauthz.SelfHeader).
	Self opadockerauthz.SelfToken
}

// SetCompat swaps in the opa-docker-authz policy; nil turns it off.
// Decisions already running keep the one they loaded. A reload of the
// policy file builds a new Compat and calls this.
func (a *Authorizer) SetCompat(c *Compat) { a.compat.Store(c) }

// CompatPolicy is the Compat SetCompat last set, nil for none.
func (a *Authorizer) CompatPolicy() *Compat { return a.compat.Load() }

// checkCompat asks the opa-docker-authz policy about a request the
// plugin's own decision allowed (or would have allowed, in warn mode), as
// opa-docker-authz asks about every request: pings, reads, creates. A
// request it does not allow is denied with RuleCompat, or RuleOverloaded
// when the decision's deadline, counted from start, ran out. The deny
// follows the global mode like the plugin's other Go-decided denials.
func (a *Authorizer) checkCompat(ctx context.Context, c *Compat, start time.Time, req authorization.Request, rec *Record) {
	if !rec.Allow || c.Self.Marks(req.RequestHeaders) {
		return
	}
	ctx, cancel := context.WithDeadline(ctx, start.Add(a.timeout()))
	defer cancel()
	d := c.Policy.Decide(ctx, req)
	if d.Allow {
		return
	}
	rule := RuleCompat
	if ctx.Err() != nil {
		a.overloaded.Add(1)
		rule = RuleOverloaded
	}
	// A denied request is no longer a fast-path one: it is logged, and the
	// decision log writes it with the input the policy saw.
	rec.Allow, rec.fast, rec.Builtin = false, false, rule
	rec.Msg = compatMessage(rule, c.Policy.File(), d)
	rec.compatInput = d.Input
	if d.Err != nil {
		rec.Err = excerpt(redact.String(d.Err.Error()), maxLoggedError)
	}
	demoteBuiltin(rec, a.enforcement.Load())
}

// compatMessage is the deny message of a request the opa-docker-authz
// policy did not allow. Evaluation errors can quote input values, so they
// are redacted and bounded.
func compatMessage(rule, file string, d opadockerauthz.Decision) string {
	why := excerpt(redact.String(d.Why()), maxLoggedError)
	if rule == RuleOverloaded {
		return fmt.Sprintf("%s: the opa-docker-authz policy %s could not decide this request in time (%s); it is denied because the plugin fails closed. Retry; if it persists, raise --decision-timeout or make the policy cheaper.", rule, file, why)
	}
	return fmt.Sprintf("%s: denied by the opa-docker-authz policy %s: %s.", rule, file, why)
}

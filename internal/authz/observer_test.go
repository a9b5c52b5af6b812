package authz

import (
	"context"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
)

type recorder struct{ recs []Record }

func (r *recorder) Observe(_ context.Context, rec Record) { r.recs = append(r.recs, rec) }

// The observer sees every decision, fast path included, with the input
// the policies evaluated and the policy generation.
func TestObserverSeesEveryDecision(t *testing.T) {
	a := newAuthorizer(t, nil)
	var r recorder
	a.Observer = Observers{&r}
	ctx := context.Background()
	a.AuthZReq(ctx, authorization.Request{RequestMethod: "GET", RequestURI: "/_ping"})
	res := a.AuthZReq(ctx, authztest.CreateCall(t, "app", composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD", "curl", "-f", "http://localhost:3000/health")))
	a.AuthZReq(ctx, authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/create", RequestBody: []byte("[")})
	if len(r.recs) != 3 {
		t.Fatalf("%d records", len(r.recs))
	}
	ping, create, bad := r.recs[0], r.recs[1], r.recs[2]
	if _, ok := ping.Input(); !ping.FastPath() || ok || ping.PolicyGeneration() != 0 {
		t.Errorf("ping: fast %v input %v generation %d", ping.FastPath(), ok, ping.PolicyGeneration())
	}
	v, ok := create.Input()
	if create.FastPath() || !ok || create.Allow != res.Allow || create.PolicyGeneration() != a.Engine.Generation() || create.Duration <= 0 {
		t.Fatalf("create: fast %v input %v allow %v generation %d", create.FastPath(), ok, create.Allow, create.PolicyGeneration())
	}
	if c := v.(ast.Object).Get(ast.StringTerm("container")); c == nil {
		t.Errorf("the input has no container: %v", v)
	}
	if v, ok := bad.Input(); !ok || bad.Builtin != RuleBadCreateBody || v.(ast.Object).Get(ast.StringTerm("action")) == nil {
		t.Errorf("undecodable create: input %v %v, builtin %q", v, ok, bad.Builtin)
	}
}

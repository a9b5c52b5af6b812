package authz

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/opadockerauthz"
)

// exampleCompat is opa-docker-authz's example policy (testdata, with its
// license), as serve --opa-docker-authz-policy loads it.
func exampleCompat(t testing.TB) *Compat {
	t.Helper()
	p, err := opadockerauthz.Load(context.Background(), filepath.Join("..", "..", "testdata", "opa-docker-authz", "example.rego"))
	if err != nil {
		t.Fatal(err)
	}
	self, err := opadockerauthz.NewSelfToken()
	if err != nil {
		t.Fatal(err)
	}
	return &Compat{Policy: p, Self: self}
}

func as(req authorization.Request, user string) authorization.Request {
	h := map[string]string{"Authz-User": user}
	for k, v := range req.RequestHeaders {
		h[k] = v
	}
	req.RequestHeaders = h
	return req
}

// Both must allow: the example policy refuses what it refuses (on reads
// and pings too, not only creates), the plugin's rules refuse what they
// refuse, and each denial names who made it.
func TestCompatBothMustAllow(t *testing.T) {
	a := newAuthorizer(t, nil)
	c := exampleCompat(t)
	a.SetCompat(c)
	var r recorder
	a.Observer = Observers{&r}
	ctx := context.Background()
	list := authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/json"}
	problem := composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD", "curl", "-f", "http://localhost:3000/health")
	sidecar := curlSidecar()
	cases := []struct {
		name  string
		req   authorization.Request
		allow bool
		rule  string
	}{
		{"HEAD /_ping, skipped by opa-docker-authz", authorization.Request{RequestMethod: "HEAD", RequestURI: "/_ping"}, true, ""},
		{"GET /_ping without a user: the example refuses it", authorization.Request{RequestMethod: "GET", RequestURI: "/_ping"}, false, RuleCompat},
		{"a list without a user", list, false, RuleCompat},
		{"a list as read-only bob", as(list, "bob"), true, ""},
		{"a good create as bob", as(authztest.CreateCall(t, "side", sidecar), "bob"), false, RuleCompat},
		{"a good create as alice", as(authztest.CreateCall(t, "side", sidecar), "alice"), true, ""},
		{"the seed's problem as alice: our rule", as(authztest.CreateCall(t, "app", problem), "alice"), false, "HA002"},
		{"the seed's problem as bob: our rule's message first", as(authztest.CreateCall(t, "app", problem), "bob"), false, "HA002"},
		{"the plugin's own call", authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/images/busybox/json", RequestHeaders: c.Self.Headers()}, true, ""},
		{"a forged self header", authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/images/busybox/json", RequestHeaders: map[string]string{opadockerauthz.SelfHeader: "guess"}}, false, RuleCompat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.recs = nil
			res := a.AuthZReq(ctx, tc.req)
			if res.Allow != tc.allow {
				t.Fatalf("allow = %v, want %v: %s", res.Allow, tc.allow, res.Msg)
			}
			rec := r.recs[0]
			if tc.rule == "" {
				return
			}
			if ids := rec.Rules(); len(ids) == 0 || ids[0] != tc.rule {
				t.Errorf("rules %v, want %s first", ids, tc.rule)
			}
			if tc.rule != RuleCompat {
				return
			}
			want := "HA095: denied by the opa-docker-authz policy " + c.Policy.File() + ": data.docker.authz.allow is undefined"
			if !strings.HasPrefix(res.Msg, want) {
				t.Errorf("message %q, want it to start %q", res.Msg, want)
			}
			v, ok := rec.Input()
			if rec.FastPath() || !ok || v.(ast.Object).Get(ast.StringTerm("Path")) == nil {
				t.Errorf("the record keeps no opa-docker-authz input for the decision log: fast %v, input %v", rec.FastPath(), v)
			}
		})
	}
}

// Without the flag nothing changes: the fast path stays fast, and
// SetCompat(nil) turns the policy off again.
func TestCompatOff(t *testing.T) {
	a := newAuthorizer(t, nil)
	a.SetCompat(exampleCompat(t))
	a.SetCompat(nil)
	var r recorder
	a.Observer = Observers{&r}
	if res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/json"}); !res.Allow || !r.recs[0].FastPath() {
		t.Errorf("without an opa-docker-authz policy a list is a fast-path allow: %+v", res)
	}
}

// In warn mode the opa-docker-authz policy's denial is let through and
// marked, like the plugin's other denials made in Go.
func TestCompatFollowsTheGlobalMode(t *testing.T) {
	a := newAuthorizer(t, nil)
	a.SetCompat(exampleCompat(t))
	a.SetEnforcement(&enforce.Policy{Mode: enforce.Warn})
	var r recorder
	a.Observer = Observers{&r}
	res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/json"})
	rec := r.recs[0]
	if !res.Allow || !rec.WouldDeny || len(rec.Demoted) != 1 || rec.Demoted[0].Rule != RuleCompat {
		t.Errorf("warn mode: allow %v, would deny %v, demoted %+v", res.Allow, rec.WouldDeny, rec.Demoted)
	}
}

// A decision whose deadline has run out is denied as overloaded.
func TestCompatDeadline(t *testing.T) {
	a := newAuthorizer(t, nil)
	p, err := opadockerauthz.Compile(context.Background(), "slow.rego", []byte("package docker.authz\nallow if { some i in numbers.range(1, 100000000); i < 0 }\nallow if true"))
	if err != nil {
		t.Fatal(err)
	}
	a.SetCompat(&Compat{Policy: p})
	a.Timeout = 50 * time.Millisecond
	res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/info"})
	if res.Allow || !strings.HasPrefix(res.Msg, RuleOverloaded+": the opa-docker-authz policy slow.rego could not decide") {
		t.Errorf("past the deadline: %+v", res)
	}
	if _, overloaded := a.Stats(); overloaded != 1 {
		t.Errorf("overloaded = %d", overloaded)
	}
}

// The deny is logged at info with its rule, never the request's headers.
func TestCompatDenyLogged(t *testing.T) {
	a := newAuthorizer(t, nil)
	a.SetCompat(exampleCompat(t))
	var buf strings.Builder
	a.Log = slog.New(slog.NewJSONHandler(&buf, nil))
	a.AuthZReq(context.Background(), as(authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/x/stop", RequestHeaders: map[string]string{"X-Secret": "hunter2"}}, "bob"))
	if out := buf.String(); !strings.Contains(out, `"rules":["HA095"]`) || strings.Contains(out, "hunter2") {
		t.Errorf("log: %s", out)
	}
}

func BenchmarkAuthZReqCompat(b *testing.B) {
	a := newAuthorizer(b, nil)
	a.SetCompat(exampleCompat(b))
	ctx := context.Background()
	req := as(authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/0123456789ab/json", RequestHeaders: map[string]string{"User-Agent": "Docker-Client/28.2.2 (linux)"}}, "bob")
	if !a.AuthZReq(ctx, req).Allow {
		b.Fatal("denied")
	}
	b.ReportAllocs()
	for b.Loop() {
		a.AuthZReq(ctx, req)
	}
}

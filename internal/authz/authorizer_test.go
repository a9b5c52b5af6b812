package authz

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/route"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

// namesOnly answers every image lookup with the name-based facts, as the
// plugin does when the daemon cannot answer; per-ref entries add what a
// daemon would have said.
type namesOnly map[string]imagefacts.Facts

func (n namesOnly) Inspect(_ context.Context, ref string) imagefacts.Facts {
	if f, ok := n[ref]; ok {
		return f
	}
	return imagefacts.Named(ref)
}

func newAuthorizer(t testing.TB, images namesOnly, overrides ...string) *Authorizer {
	t.Helper()
	e, err := policy.New(context.Background(), policy.Sources{Library: rego.FS, Rules: policies.FS, Overrides: overrides})
	if err != nil {
		t.Fatal(err)
	}
	return &Authorizer{Engine: e, Images: &imagefacts.Source{Inspector: images}, PluginName: "hardened-authz"}
}

// composeApp is the create body docker-compose sends for the seed's problem
// service: a hardened node image with a curl healthcheck.
func composeApp(image string, test ...string) map[string]any {
	return map[string]any{
		"Image":       image,
		"Healthcheck": map[string]any{"Test": test, "Interval": 30e9, "Timeout": nil, "Retries": nil},
		"Labels":      map[string]string{"com.docker.compose.project": "seed", "com.docker.compose.service": "app"},
		"HostConfig":  map[string]any{"PortBindings": map[string]any{"3000/tcp": []map[string]string{{"HostIp": "", "HostPort": "3000"}}}},
	}
}

func TestComposeCurlHealthcheckOnHardenedNodeIsDeniedWithTheSidecarFix(t *testing.T) {
	a := newAuthorizer(t, nil)
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "seed-app-1",
		composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD", "curl", "-f", "http://localhost:3000/health")))
	if res.Allow {
		t.Fatal("allowed a curl healthcheck in an image without curl")
	}
	for _, want := range []string{"HA002", `"app"`, "dhi.io/node:25-debian13-sfw-ent-dev", "curl",
		"app-health", `network_mode: "service:app"`, `entrypoint: ["sleep", "infinity"]`, "http://localhost:3000/health", "service_healthy", "node"} {
		if !strings.Contains(res.Msg, want) {
			t.Errorf("deny message lacks %q:\n%s", want, res.Msg)
		}
	}
	if len(res.Msg) > MaxMessageBytes {
		t.Errorf("message is %d bytes, over %d", len(res.Msg), MaxMessageBytes)
	}
}

func TestDockerRunShellHealthcheck(t *testing.T) {
	a := newAuthorizer(t, nil)
	body := map[string]any{"Image": "dhi.io/node:24", "Healthcheck": map[string]any{"Test": []string{"CMD-SHELL", "curl -f http://localhost:3000/"}}}
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "web", body))
	if res.Allow || !strings.Contains(res.Msg, "HA001") || !strings.Contains(res.Msg, "--network container:web") {
		t.Fatalf("want HA001 with docker run flags, got allow=%v:\n%s", res.Allow, res.Msg)
	}
	// The same check in an image with a shell is fine.
	body["Image"] = "dhi.io/node:24-dev"
	body["Healthcheck"] = map[string]any{"Test": []string{"CMD-SHELL", "node -e 'process.exit(0)'"}}
	if res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "web", body)); !res.Allow {
		t.Fatalf("denied a shell healthcheck in a -dev image:\n%s", res.Msg)
	}
}

func TestImageFactsDecide(t *testing.T) {
	// An image the catalog does not know, whose labels say it has no shell.
	labelled := imagefacts.Named("acme/api:1.4")
	labelled.Source, labelled.Found = imagefacts.SourceDaemon, true
	labelled.Labels = map[string]string{"com.docker.dhi.shell": ""}
	// An image whose own HEALTHCHECK runs curl, with a catalog entry without curl.
	inherits := imagefacts.Named("dhi.io/python:3.13")
	inherits.Source, inherits.Found = imagefacts.SourceDaemon, true
	inherits.Healthcheck = &imagefactsHealth{Test: []string{"CMD", "curl", "-f", "http://localhost:8000/"}}
	a := newAuthorizer(t, namesOnly{"acme/api:1.4": labelled, "dhi.io/python:3.13": inherits})

	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "api", map[string]any{"Image": "acme/api:1.4",
		"Healthcheck": map[string]any{"Test": []string{"CMD-SHELL", "true"}}}))
	if res.Allow || !strings.Contains(res.Msg, "HA001") {
		t.Errorf("labels say no shell: want HA001, got allow=%v %s", res.Allow, res.Msg)
	}
	res = a.AuthZReq(context.Background(), authztest.CreateCall(t, "py", map[string]any{"Image": "dhi.io/python:3.13"}))
	if res.Allow || !strings.Contains(res.Msg, "HA002") || !strings.Contains(res.Msg, "python") {
		t.Errorf("inherited curl healthcheck: want HA002 with a python probe, got allow=%v %s", res.Allow, res.Msg)
	}
	res = a.AuthZReq(context.Background(), authztest.CreateCall(t, "py", map[string]any{"Image": "dhi.io/python:3.13",
		"Healthcheck": map[string]any{"Test": []string{"NONE"}}}))
	if !res.Allow {
		t.Errorf("a disabled healthcheck must be allowed: %s", res.Msg)
	}
	// Unknown images are never denied on a guess.
	res = a.AuthZReq(context.Background(), authztest.CreateCall(t, "x", map[string]any{"Image": "busybox",
		"Healthcheck": map[string]any{"Test": []string{"CMD-SHELL", "wget -q localhost"}}}))
	if !res.Allow {
		t.Errorf("unknown image denied: %s", res.Msg)
	}
}

func TestBadCreateBodiesAreDenied(t *testing.T) {
	a := newAuthorizer(t, nil)
	for name, body := range map[string]string{
		"missing":   "",
		"empty":     "   ",
		"not json":  "Image=busybox",
		"wrong":     `{"Image":["busybox"]}`,
		"array":     `[]`,
		"trailing":  `{"Image":"a"}{"Image":"b"}`,
		"truncated": `{"Image":"a","Healthcheck":{`,
	} {
		t.Run(name, func(t *testing.T) {
			req := authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/containers%2Fcreate", RequestBody: []byte(body)}
			res := a.AuthZReq(context.Background(), req)
			if res.Allow || !strings.HasPrefix(res.Msg, RuleBadCreateBody+":") {
				t.Fatalf("want %s, got allow=%v %q", RuleBadCreateBody, res.Allow, res.Msg)
			}
		})
	}
}

func TestOtherRequestsTakeTheFastPath(t *testing.T) {
	a := newAuthorizer(t, nil)
	for _, uri := range []string{"/_ping", "/v1.41/containers/json?all=1", "/v1.41/containers/abc/start", "/v1.41/images/dhi.io/node:24/json"} {
		if res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "GET", RequestURI: uri}); !res.Allow {
			t.Errorf("%s denied: %s", uri, res.Msg)
		}
	}
}

func TestPluginSelfProtection(t *testing.T) {
	a := newAuthorizer(t, nil)
	for _, uri := range []string{"/v1.41/plugins/hardened-authz:latest/disable", "/v1.41/plugins/hardened-authz/set", "/v1.41/plugins%2Fhardened-authz%2Fupgrade"} {
		res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "POST", RequestURI: uri})
		if res.Allow || !strings.Contains(res.Msg, "HA090") {
			t.Errorf("%s: want HA090, got allow=%v %q", uri, res.Allow, res.Msg)
		}
	}
	res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "DELETE", RequestURI: "/v1.41/plugins/hardened-authz:latest?force=1"})
	if res.Allow || !strings.Contains(res.Msg, "HA090") {
		t.Errorf("remove: want HA090, got allow=%v %q", res.Allow, res.Msg)
	}
	if res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/plugins/vieux/sshfs/disable"}); !res.Allow {
		t.Errorf("another plugin's disable denied: %s", res.Msg)
	}
}

func TestRequestRulesLeaveTheFastPath(t *testing.T) {
	dir := t.TempDir()
	rule := `package hardened.requests.acme

deny contains {"rule": "ACME001", "severity": "error", "title": "No exec", "message": "ACME001: exec is not allowed here", "fix": {"summary": "Use logs."}} if {
	input.request.method == "POST"
	endswith(input.request.path, "/exec")
}
`
	if err := os.WriteFile(filepath.Join(dir, "acme.rego"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAuthorizer(t, nil, dir)
	if !a.Engine.HasRequestRules() {
		t.Fatal("a hardened.requests package must turn request rules on")
	}
	res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/abc/exec"})
	if res.Allow || !strings.Contains(res.Msg, "ACME001") {
		t.Fatalf("request rule did not apply: allow=%v %q", res.Allow, res.Msg)
	}
	if res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "GET", RequestURI: "/_ping"}); !res.Allow {
		t.Fatal("/_ping must stay allowed whatever the rules say")
	}
}

func TestEvaluationFailureIsDenied(t *testing.T) {
	dir := t.TempDir()
	// A rule that builds a violation without an ID is a policy bug: deny.
	rule := "package hardened.rules.broken\n\ndeny contains {\"message\": \"oops\"} if input.action == \"container.create\"\n"
	if err := os.WriteFile(filepath.Join(dir, "broken.rego"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAuthorizer(t, nil, dir)
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "x", map[string]any{"Image": "busybox"}))
	if res.Allow || !strings.HasPrefix(res.Msg, RuleEvalFailure) {
		t.Fatalf("want %s, got allow=%v %q", RuleEvalFailure, res.Allow, res.Msg)
	}
}

func TestMessageTruncation(t *testing.T) {
	vs := []policy.Violation{}
	for range 50 {
		vs = append(vs, policy.Violation{Rule: "X", Message: strings.Repeat("word ", 30), Fix: policy.Fix{Summary: "fix"}})
	}
	msg := Message(vs)
	if len(msg) > MaxMessageBytes || !strings.Contains(msg, "truncated") {
		t.Fatalf("message of %d bytes, truncated marker %v", len(msg), strings.Contains(msg, "truncated"))
	}
}

func BenchmarkAuthZReq(b *testing.B) {
	a := newAuthorizer(b, nil)
	ctx := context.Background()
	cases := map[string]authorization.Request{
		"ping":         {RequestMethod: "GET", RequestURI: "/_ping"},
		"inspect":      {RequestMethod: "GET", RequestURI: "/v1.41/containers/0123456789ab/json"},
		"create-deny":  authztest.CreateCall(b, "app", composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD", "curl", "-f", "http://localhost:3000/health")),
		"create-allow": authztest.CreateCall(b, "app", curlSidecar()),
	}
	for name, req := range cases {
		// Measure the decision the case is named for, not another one.
		if allow := a.AuthZReq(ctx, req).Allow; allow != (name != "create-deny") {
			b.Fatalf("%s: allow=%v", name, allow)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.AuthZReq(ctx, req)
			}
		})
		if !strings.HasPrefix(name, "create") {
			continue
		}
		// The same create under a new container name each time, as the
		// replicas of a service and the first `up` of a project are: no
		// decision is repeated, so every one is evaluated.
		b.Run(name+"/new", func(b *testing.B) {
			b.ReportAllocs()
			uri, n := req.RequestURI, 0
			for b.Loop() {
				n++
				req.RequestURI = uri + "-" + strconv.Itoa(n)
				a.AuthZReq(ctx, req)
			}
		})
	}
}

func BenchmarkAuthZRes(b *testing.B) {
	a := newAuthorizer(b, nil)
	a.Warmer = warmRecorder{} // a GET never warms: the branch is what is measured
	req := authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/json?all=1&filters=%7B%7D", ResponseStatusCode: 200}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a.AuthZRes(ctx, req)
	}
}

// A create body is read as the daemon that will run it reads it: top-level
// HostConfig fields apply on dockerd up to 26.x, are ignored from 27, and
// make the body ambiguous while the daemon's version is unknown.
func TestCreateBodiesAreReadInTheDaemonsDialect(t *testing.T) {
	body := map[string]any{
		"Image": "dhi.io/curl:8-debian13-dev", "Entrypoint": []string{"sleep", "infinity"},
		"Healthcheck": map[string]any{"Test": []string{"CMD", "curl", "-f", "http://app:3000/"}},
		"Memory":      32 << 20,
	}
	call := authztest.CreateCall(t, "checker", body)
	rt := route.Parse(call.RequestMethod, call.RequestURI)
	for _, tt := range []struct {
		api      string
		err      error
		allow    bool
		warnings []string
	}{
		{api: "1.41", allow: true},
		{api: "1.46", allow: true, warnings: []string{"HA008"}},
		{err: errors.New("daemon not up yet")},
	} {
		a := newAuthorizer(t, nil)
		a.DaemonAPI = func(context.Context) (string, error) { return tt.api, tt.err }
		rec := a.decide(context.Background(), rt, call)
		var warned []string
		for _, w := range rec.Warnings {
			warned = append(warned, w.Rule)
		}
		if rec.Allow != tt.allow || !slices.Equal(warned, tt.warnings) {
			t.Errorf("API %q: allow=%v warnings=%v %q; want allow=%v warnings=%v", tt.api, rec.Allow, warned, rec.Msg, tt.allow, tt.warnings)
		}
		if !tt.allow && rec.Builtin != RuleBadCreateBody {
			t.Errorf("unknown daemon: denied by %q, want %s (ambiguous body)", rec.Builtin, RuleBadCreateBody)
		}
	}
}

package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/moby/moby/api/types/container"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/route"
	"github.com/hardened-authz/hardened-authz/internal/startreq"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

// stored answers container inspect with what dockerd kept for each ref.
type stored map[string]startreq.Container

func (s stored) Inspect(_ context.Context, ref string) (startreq.Container, error) {
	if c, ok := s[ref]; ok {
		return c, nil
	}
	if ref == "slow" {
		return startreq.Container{}, fmt.Errorf("container inspect of %q: %w", ref, context.DeadlineExceeded)
	}
	return startreq.Container{}, fmt.Errorf("%w: %s", startreq.ErrNotFound, ref)
}

func startCall(ref string) authorization.Request {
	return authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/" + ref + "/start"}
}

func storedContainer(image string, test ...string) startreq.Container {
	return startreq.Container{
		ID: strings.Repeat("c", 64), Name: "web", ImageID: "sha256:" + strings.Repeat("9", 64),
		Request: &container.CreateRequest{
			Config:     &container.Config{Image: image, Healthcheck: &container.HealthConfig{Test: test}},
			HostConfig: &container.HostConfig{},
		},
	}
}

// keptAlive gives c the sidecar's keep-alive entrypoint: the curl image
// alone runs curl --help and exits (HA011).
func keptAlive(c startreq.Container) startreq.Container {
	c.Request.Config.Entrypoint = []string{"sleep", "infinity"}
	return c
}

// A start is decided as the create dockerd stored: a container created
// while the plugin was off, or retagged since, is checked before it runs.
func TestStartsAreDecidedFromTheStoredContainer(t *testing.T) {
	a := newAuthorizer(t, nil)
	a.Started = stored{
		"web":  storedContainer("dhi.io/node:24", "CMD", "curl", "-f", "http://localhost:3000/health"),
		"fine": keptAlive(storedContainer("dhi.io/curl:8-debian13-dev", "CMD", "curl", "-f", "http://api:3000/health")),
	}
	res := a.AuthZReq(context.Background(), startCall("web"))
	if res.Allow || !strings.HasPrefix(res.Msg, "HA002") || !strings.Contains(res.Msg, `container "web"`) || !strings.Contains(res.Msg, "dhi.io/node:24") {
		t.Fatalf("want HA002 on the stored container, got allow=%v %q", res.Allow, res.Msg)
	}
	if res := a.AuthZReq(context.Background(), startCall("fine")); !res.Allow {
		t.Fatalf("a container whose healthcheck runs was refused its start: %s", res.Msg)
	}
	// dockerd answers 404 for a container it does not have.
	if res := a.AuthZReq(context.Background(), startCall("nope")); !res.Allow {
		t.Fatalf("a start of a missing container was denied: %s", res.Msg)
	}
	// A daemon that does not answer: fail closed, within the deadline.
	if res := a.AuthZReq(context.Background(), startCall("slow")); res.Allow || !strings.HasPrefix(res.Msg, RuleOverloaded+":") || !strings.Contains(res.Msg, `"slow"`) {
		t.Fatalf("a start that could not be checked was allowed: %q", res.Msg)
	}

	// Without a way to read containers, starts stay on the fast path.
	a.Started = nil
	if res := a.AuthZReq(context.Background(), startCall("web")); !res.Allow {
		t.Fatalf("denied without a container reader: %s", res.Msg)
	}
}

func TestUnroutableTargetsAreDenied(t *testing.T) {
	a := newAuthorizer(t, nil)
	for _, uri := range []string{"*", "x:y", "/containers/%zz/create"} {
		res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "POST", RequestURI: uri})
		if res.Allow || !strings.HasPrefix(res.Msg, RuleUnroutable+":") {
			t.Errorf("%q: want %s, got allow=%v %q", uri, RuleUnroutable, res.Allow, res.Msg)
		}
	}
}

// A start of a container this plugin allowed at create, on the same image
// ID and under the same policies, reuses that decision; any difference
// (another image: a retag raced the create; new policies; a second start)
// is evaluated in full.
func TestStartReusesTheCreatesDecision(t *testing.T) {
	curl := imagefacts.Named("dhi.io/curl:8-debian13-dev")
	curl.Source, curl.Found, curl.ID = imagefacts.SourceDaemon, true, "sha256:"+strings.Repeat("a", 64)
	a := newAuthorizer(t, namesOnly{"dhi.io/curl:8-debian13-dev": curl})
	id := strings.Repeat("c", 64)
	web := keptAlive(storedContainer("dhi.io/curl:8-debian13-dev", "CMD", "curl", "-f", "http://api:3000/health"))
	web.ID, web.ImageID = id, curl.ID
	raced := storedContainer("dhi.io/node:24", "CMD", "curl", "-f", "http://localhost:3000/health")
	raced.ID, raced.ImageID = id, "sha256:"+strings.Repeat("b", 64)
	ctx := context.Background()
	startRoute := route.Parse("POST", "/v1.41/containers/web/start")

	created := func() {
		t.Helper()
		call := authztest.CreateCall(t, "web", map[string]any{"Image": "dhi.io/curl:8-debian13-dev", "Entrypoint": []string{"sleep", "infinity"},
			"Healthcheck": map[string]any{"Test": []string{"CMD", "curl", "-f", "http://api:3000/health"}}})
		if res := a.AuthZReq(ctx, call); !res.Allow {
			t.Fatalf("create denied: %s", res.Msg)
		}
		call.ResponseStatusCode, call.ResponseBody = 201, []byte(`{"Id":"`+id+`","Warnings":[]}`)
		a.AuthZRes(ctx, call)
	}

	a.Started = stored{"web": web}
	created()
	if rec := a.decide(ctx, startRoute, startCall("web")); !rec.Allow || !rec.Reused || rec.Container != "web" {
		t.Fatalf("first start: allow=%v reused=%v container=%q; want the create's decision reused", rec.Allow, rec.Reused, rec.Container)
	}
	if rec := a.decide(ctx, startRoute, startCall("web")); !rec.Allow || rec.Reused {
		t.Fatalf("second start: allow=%v reused=%v; want a full evaluation", rec.Allow, rec.Reused)
	}

	// dockerd stored another image than the one the create was decided on.
	a.Started = stored{"web": raced}
	created()
	if rec := a.decide(ctx, startRoute, startCall("web")); rec.Allow || rec.Reused || !strings.HasPrefix(rec.Msg, "HA002") {
		t.Fatalf("raced start: allow=%v reused=%v %q; want HA002 on the image dockerd stored", rec.Allow, rec.Reused, rec.Msg)
	}

	// New policies since the create.
	a.Started = stored{"web": web}
	created()
	if err := a.Engine.Load(ctx, policy.Sources{Library: rego.FS, Rules: policies.FS}); err != nil {
		t.Fatal(err)
	}
	if rec := a.decide(ctx, startRoute, startCall("web")); !rec.Allow || rec.Reused {
		t.Fatalf("start under new policies: allow=%v reused=%v; want a full evaluation", rec.Allow, rec.Reused)
	}
}

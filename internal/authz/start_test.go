package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/moby/moby/api/types/container"

	"github.com/hardened-authz/hardened-authz/internal/startreq"
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

// A start is decided as the create dockerd stored: a container created
// while the plugin was off, or retagged since, is checked before it runs.
func TestStartsAreDecidedFromTheStoredContainer(t *testing.T) {
	a := newAuthorizer(t, nil)
	a.Started = stored{
		"web":  storedContainer("dhi.io/node:25", "CMD", "curl", "-f", "http://localhost:3000/health"),
		"fine": storedContainer("dhi.io/curl:8-debian13-dev", "CMD", "curl", "-f", "http://localhost:3000/health"),
	}
	res := a.AuthZReq(context.Background(), startCall("web"))
	if res.Allow || !strings.HasPrefix(res.Msg, "HA002") || !strings.Contains(res.Msg, `container "web"`) || !strings.Contains(res.Msg, "dhi.io/node:25") {
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

package authz

import (
	"context"
	"strconv"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/netns"
)

// runningApp resolves every network target to the seed's running app, as
// a daemon would after `docker compose up` started it, without a daemon:
// the benchmark measures the decision, not a round trip.
type runningApp struct{}

func (runningApp) Resolve(_ context.Context, ref string) netns.Target {
	return netns.Target{Found: true, ID: ref, Name: "seed-app-1", Image: "dhi.io/node:25-debian13-sfw-ent-dev", Running: true,
		Labels: map[string]string{input.LabelComposeProject: "seed", input.LabelComposeService: "app"}}
}

func (runningApp) ByPort(_ context.Context, _ string) netns.Target {
	return netns.Target{Found: true, Name: "seed-app-1", Running: true}
}

// BenchmarkAuthZReqNetworkTarget is the create compose sends for the seed
// solution's sidecar (network_mode: "service:app"): a curl sidecar in the
// app's network namespace, "container:<id>", which the decision resolves
// to the app and its compose service before the policies run: "repeat"
// sends the same create, as `up` after `down` does, "new" a new container
// each time.
func BenchmarkAuthZReqNetworkTarget(b *testing.B) {
	a := newAuthorizer(b, nil)
	a.Containers = runningApp{}
	sidecar := curlSidecar()
	sidecar["Healthcheck"] = map[string]any{"Test": []string{"CMD", "curl", "-f", "http://localhost:3000/health"}, "Interval": 30e9}
	sidecar["HostConfig"] = map[string]any{"NetworkMode": "container:4d9a1f3e2c7b6a5d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"}
	req := authztest.CreateCall(b, "seed-app-health-1", sidecar)
	ctx := context.Background()
	if res := a.AuthZReq(ctx, req); !res.Allow {
		b.Fatalf("the sidecar in the app's namespace was denied: %s", res.Msg)
	}
	b.Run("repeat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.AuthZReq(ctx, req)
		}
	})
	// A new container name each time, as a first `up` has: nothing
	// decided before can answer it.
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		uri, n := req.RequestURI, 0
		for b.Loop() {
			n++
			req.RequestURI = uri + "-" + strconv.Itoa(n)
			a.AuthZReq(ctx, req)
		}
	})
}

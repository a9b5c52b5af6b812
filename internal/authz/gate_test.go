package authz

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
)

// With every evaluation slot taken, a decision is denied when its deadline
// passes, never later, and the fast path does not wait at all.
func TestOverloadedDecisionsAreDeniedWithinTheirDeadline(t *testing.T) {
	a := newAuthorizer(t, nil)
	a.Gate = NewGate(1)
	a.Timeout = 100 * time.Millisecond
	release, err := a.Gate.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "app", curlSidecar()))
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("an overloaded decision took %v with a 100ms deadline", elapsed)
	}
	if res.Allow || !strings.HasPrefix(res.Msg, RuleOverloaded+":") || !strings.Contains(res.Msg, "--decision-timeout") {
		t.Fatalf("want %s naming the knob, got allow=%v %q", RuleOverloaded, res.Allow, res.Msg)
	}
	if _, overloaded := a.Stats(); overloaded != 1 {
		t.Errorf("overloaded decisions counted %d, want 1", overloaded)
	}

	start = time.Now()
	for _, uri := range []string{"/_ping", "/v1.41/containers/json"} {
		if res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "GET", RequestURI: uri}); !res.Allow {
			t.Errorf("%s denied while the gate is full: %s", uri, res.Msg)
		}
	}
	if elapsed := time.Since(start); elapsed > 50*time.Millisecond {
		t.Errorf("the fast path waited %v behind the gate", elapsed)
	}

	release()
	if res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "app", curlSidecar())); !res.Allow {
		t.Fatalf("with a free slot the create is decided again, got %q", res.Msg)
	}
}

func TestNilGateLetsEveryEvaluationIn(t *testing.T) {
	var g *Gate
	release, err := g.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
}

// curlSidecar is a create of the curl sidecar image with its keep-alive
// and a healthcheck that runs, probing another service by name (no
// network namespace to share): allowed when decided.
func curlSidecar() map[string]any {
	c := composeApp("dhi.io/curl:8-debian13-dev", "CMD", "curl", "-f", "http://api:3000/health")
	c["Entrypoint"] = []string{"sleep", "infinity"}
	return c
}

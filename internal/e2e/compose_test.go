//go:build e2e

package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The compose files are the seed article's, verbatim (testdata/seed).
const (
	problemCompose  = "testdata/seed/problem/compose.yaml"
	solutionCompose = "testdata/seed/solution/compose.yaml"
)

// TestComposeProblemIsDenied brings up the seed's problem: a hardened Node.js
// image whose healthcheck runs curl, which the image lacks. The plugin must
// deny the create with HA002 and hand the user the sidecar fix.
func TestComposeProblemIsDenied(t *testing.T) {
	p := newProject(t, "problem", problemCompose)
	offset := suite.Plugin.LogSize()

	res := p.Compose(t, 2*time.Minute, "up", "-d")
	if res.OK() {
		t.Fatalf("docker-compose up succeeded; the plugin should have denied the app:\n%s", res)
	}
	requireContains(t, "docker-compose output", res.Out,
		"HA002",
		"authorization denied by plugin "+suite.PluginName,
		"app-health",
		`network_mode: "service:app"`,
		"sleep", "infinity",
		"http://localhost:3000/health",
	)
	requireDecision(t, offset, false, "HA002")

	// Denied in AuthZReq: the container must not exist at all.
	ps := mustDocker(t, 30*time.Second, "ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+p.Name)
	if strings.TrimSpace(ps.Out) != "" {
		t.Fatalf("a container of the denied project exists:\n%s", ps)
	}
}

// TestComposeSolutionTurnsHealthy brings up the seed's solution: the app plus
// a curl sidecar sharing its network namespace. Both creates must be allowed,
// and the sidecar's healthcheck must really pass against the app.
func TestComposeSolutionTurnsHealthy(t *testing.T) {
	p := newProject(t, "solution", solutionCompose)
	offset := suite.Plugin.LogSize()

	if res := p.Compose(t, 2*time.Minute, "up", "-d"); !res.OK() {
		t.Fatalf("docker-compose up failed:\n%s", res)
	}
	ds, err := suite.Plugin.DecisionsSince(offset)
	if err != nil {
		t.Fatal(err)
	}
	allowed := 0
	for _, d := range ds {
		if !d.Allow() {
			t.Errorf("the plugin denied a call of an allowed project: %s", d.Line)
		} else {
			allowed++
		}
	}
	// Creates are always logged: one each for app and app-health.
	if allowed < 2 {
		t.Errorf("the plugin logged %d allowed decisions, want at least the 2 creates:\n%v", allowed, ds)
	}

	// The app answers on the published port: the image really runs.
	if body, err := httpGet("http://127.0.0.1:3000/health"); err != nil || strings.TrimSpace(body) != "ok" {
		t.Errorf("GET the app on the published port 3000: body %q, error %v", body, err)
	}

	id := strings.TrimSpace(p.Compose(t, 30*time.Second, "ps", "-q", "app-health").Out)
	if id == "" {
		t.Fatal("no app-health container")
	}
	// interval 30s: dockerd 20.10 runs the first probe one interval after
	// the start, so healthy comes after ~30 s.
	var status string
	waitStart := time.Now()
	ok := waitFor(100*time.Second, 2*time.Second, func() bool {
		res := suite.Docker.Run(20*time.Second, "docker", "inspect", "-f", "{{.State.Health.Status}}", id)
		status = strings.TrimSpace(res.Out)
		return status == "healthy" || status == "unhealthy"
	})
	if !ok || status != "healthy" {
		health := docker(t, 20*time.Second, "inspect", "-f", "{{json .State.Health}}", id)
		t.Fatalf("app-health is %q after %s, want healthy; health log:\n%s", status, time.Since(waitStart).Round(time.Second), health.Out)
	}
	t.Logf("app-health turned healthy %s after up", time.Since(waitStart).Round(time.Second))
}

// httpGet fetches url from the host with a short deadline.
func httpGet(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(body), err
}

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
	problemCompose    = "testdata/seed/problem/compose.yaml"
	solutionCompose   = "testdata/seed/solution/compose.yaml"
	productionCompose = "testdata/seed/production/compose.yaml"
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

// TestComposeSidecarSeedsTurnHealthy brings up the seed's solution (the app
// plus a curl sidecar sharing its network namespace) and its production
// example (api, its api-health sidecar with a memory limit, and a worker that
// waits for api-health to be healthy). Every create must be allowed, no
// sidecar rule may object to these correct sidecars (HA003, HA004), and the
// sidecars' healthchecks must really pass against the apps.
//
// Both sidecars probe every 30 s, and dockerd 20.10 runs the first probe one
// interval after the start, so each turns healthy after ~30 s. The projects
// publish different host ports (3000, 8080), so they come up together and
// the suite waits those 30 s once.
func TestComposeSidecarSeedsTurnHealthy(t *testing.T) {
	solution := newProject(t, "solution", solutionCompose)
	production := newProject(t, "production", productionCompose)

	offset := suite.Plugin.LogSize()
	if res := solution.Compose(t, 2*time.Minute, "up", "-d"); !res.OK() {
		t.Fatalf("docker-compose up of the solution failed:\n%s", res)
	}
	// Creates are always logged: app and app-health. The sidecar has no
	// memory limit: allowed, with the HA008 warning.
	requireCorrectSidecarDecisions(t, offset, map[string]int{ImageNodeDev: 1, ImageCurlDev: 1})
	if d := requireDecisionOn(t, offset, ImageCurlDev, true, "", ""); !d.HasWarning("HA008") {
		t.Errorf("the create of the solution's app-health (no memory limit) carries no HA008 warning: %s", d.Line)
	}

	// The worker depends on api-health being healthy, so up returns only
	// once the sidecar's first probe (30 s after its start) passed. The api
	// listens on 8080: the stand-in app honours the compose file's PORT.
	offset = suite.Plugin.LogSize()
	upStart := time.Now()
	if res := production.Compose(t, 150*time.Second, "up", "-d"); !res.OK() {
		t.Fatalf("docker-compose up of the production example failed:\n%s", res)
	}
	t.Logf("the production example came up (api-health healthy, worker started) %s after up", time.Since(upStart).Round(time.Second))
	// api, api-health and worker. The sidecar's 32M limit (deploy.resources,
	// which docker-compose 1.29 applies) spares it HA008.
	requireCorrectSidecarDecisions(t, offset, map[string]int{ImageNodeDev: 2, ImageCurlDev: 1})
	if d := requireDecisionOn(t, offset, ImageCurlDev, true, "", ""); d.HasWarning("HA008") {
		t.Errorf("the create of the production's api-health (32M limit) carries an HA008 warning: %s", d.Line)
	}

	// The apps answer on the published ports: the images really run.
	for _, url := range []string{"http://127.0.0.1:3000/health", "http://127.0.0.1:8080/healthz"} {
		if body, err := httpGet(url); err != nil || strings.TrimSpace(body) != "ok" {
			t.Errorf("GET %s: body %q, error %v", url, body, err)
		}
	}

	// app-health started before api-health: by now it has had its first
	// probe too, or is about to.
	requireHealthy(t, composeContainer(t, solution, "app-health"), 60*time.Second)
	requireHealthy(t, composeContainer(t, production, "api-health"), 10*time.Second)
	worker := composeContainer(t, production, "worker")
	if res := docker(t, 20*time.Second, "inspect", "-f", "{{.State.Running}}", worker); strings.TrimSpace(res.Out) != "true" {
		t.Errorf("the worker is not running:\n%s", res)
	}
}

// requireCorrectSidecarDecisions fails the test unless every decision the
// plugin logged after offset allowed the request with no sidecar rule
// (HA003, HA004) among its rules or warnings, and the creates of each image
// are logged as often as creates wants.
func requireCorrectSidecarDecisions(t *testing.T, offset int64, creates map[string]int) {
	t.Helper()
	ds, err := suite.Plugin.DecisionsSince(offset)
	if err != nil {
		t.Fatalf("read plugin log: %v", err)
	}
	got := map[string]int{}
	var lines []string
	for _, d := range ds {
		lines = append(lines, d.Line)
		if !d.Allow() {
			t.Errorf("the plugin denied a call of a correct project: %s", d.Line)
		}
		for _, rule := range []string{"HA003", "HA004"} {
			if d.HasRule(rule) || d.HasWarning(rule) {
				t.Errorf("the plugin applied %s to a correct sidecar project: %s", rule, d.Line)
			}
		}
		if d.Field("action") == "container.create" {
			got[d.Field("image")]++
		}
	}
	for image, n := range creates {
		if got[image] != n {
			t.Errorf("the plugin logged %d creates of %s, want %d; its decisions since the step:\n%s", got[image], image, n, strings.Join(lines, "\n"))
		}
	}
}

// composeContainer is the ID of the container of service in project p.
func composeContainer(t *testing.T, p Project, service string) string {
	t.Helper()
	id := strings.TrimSpace(p.Compose(t, 30*time.Second, "ps", "-q", service).Out)
	if id == "" {
		t.Fatalf("no %s container in project %s", service, p.Name)
	}
	return id
}

// httpGet fetches url from the host with a short deadline.
func httpGet(url string) (string, error) {
	_, body, err := httpGetStatus(url)
	return body, err
}

// httpGetStatus fetches url within 10 s: its status and (up to 8 MiB of)
// its body.
func httpGetStatus(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, string(body), err
}

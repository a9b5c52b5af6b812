//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// multiCompose is the seed's multiple services pattern: two apps, each with
// a curl sidecar, and a service that waits for both sidecars to be healthy.
// Its sidecars set no entrypoint, so they run the curl image's own
// `curl --help` and exit.
const multiCompose = "testdata/seed/multi/compose.yaml"

// multiProject writes the seed's multi example into a new directory, with
// what only a real project has replaced by the suite's stand-ins: the
// test-runner image (not a real image) by the app image, and the backend's
// port, which the stand-in app takes from $PORT.
func multiProject(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(suite.Root, multiCompose))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, r := range [][2]string{
		{"    image: test-runner\n", "    image: " + ImageNodeDev + "\n"},
		{"    ports:\n      - \"8080:8080\"\n", "    ports:\n      - \"8080:8080\"\n    environment:\n      PORT: \"8080\"\n"},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("%s no longer has %q", multiCompose, r[0])
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	return writeCompose(t, s)
}

// TestComposeMultiIsDeniedThenFixed brings up, with docker compose v2, the
// seed's multiple services pattern. The sidecars have no keep-alive, so the
// plugin refuses their creates with HA011 and the fix `sleep infinity`; `authz check` reports
// the same (and HA005 on the service waiting for them). After
// `authz check --fix` the file comes up through the plugin, both sidecars
// turn healthy, and the service waiting for them starts.
func TestComposeMultiIsDeniedThenFixed(t *testing.T) {
	file := multiProject(t)

	// authz check, with the daemon's images: the stand-ins' own
	// entrypoint and command (curl --help).
	res := authzCLI(t, time.Minute, "check", "--format", "json", "--docker-host", suite.Daemon.Host(), file)
	if res.ExitCode != 1 {
		t.Fatalf("authz check on the multi example: exit %d, want 1", res.ExitCode)
	}
	got := map[string]int{}
	for _, f := range checkJSON(t, res).Findings {
		got[f.Rule+" "+f.Service]++
	}
	for _, want := range []string{"HA011 frontend-health", "HA011 backend-health", "HA005 e2e-tests"} {
		if got[want] == 0 {
			t.Errorf("authz check does not report %s; findings: %v", want, got)
		}
	}

	// docker compose up: the first sidecar's create is refused.
	p := newProjectAt(t, "multi", file)
	offset := suite.Plugin.LogSize()
	up := p.ComposeV2(t, 2*time.Minute, "up", "-d")
	if up.OK() {
		t.Fatalf("docker compose up succeeded; the plugin should have denied the sidecars with HA011:\n%s", up)
	}
	requireContains(t, "docker compose output", up.Out,
		"HA011", "authorization denied by plugin "+suite.PluginName,
		`"curl", "--help"`, `entrypoint: ["sleep", "infinity"]`)
	requireDecisionOn(t, offset, ImageCurlDev, false, "HA011", "")
	ps := mustDocker(t, 30*time.Second, "ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+p.Name,
		"--filter", "label=com.docker.compose.service=e2e-tests")
	if strings.TrimSpace(ps.Out) != "" {
		t.Fatalf("the service waiting for the sidecars was created:\n%s", ps)
	}
	if down := p.ComposeV2(t, 90*time.Second, "down", "--timeout", "2"); !down.OK() {
		t.Fatalf("docker compose down failed:\n%s", down)
	}

	// --fix sets the keep-alive; the result checks clean of errors.
	if fix := authzCLI(t, time.Minute, "check", "--fix", "--docker-host", suite.Daemon.Host(), file); fix.ExitCode != 0 {
		t.Fatalf("authz check --fix: exit %d, want 0", fix.ExitCode)
	}
	fixed, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(fixed), `entrypoint: ["sleep", "infinity"]`); n != 2 {
		t.Fatalf("the fixed file has %d keep-alive entrypoints, want 2:\n%s", n, fixed)
	}

	// The fixed file comes up: e2e-tests waits for both sidecars to be
	// healthy, so up returns once both passed their first probe (one
	// default interval, 30 s, after their start).
	offset = suite.Plugin.LogSize()
	upStart := time.Now()
	if res := p.ComposeV2(t, 150*time.Second, "up", "-d"); !res.OK() {
		t.Fatalf("docker compose up of the fixed multi example failed:\n%s", res)
	}
	t.Logf("the fixed multi example came up %s after up", time.Since(upStart).Round(time.Second))
	requireCorrectSidecarDecisions(t, offset, map[string]int{ImageNodeDev: 3, ImageCurlDev: 2})
	for _, s := range []string{"frontend-health", "backend-health"} {
		requireHealthy(t, composeContainer(t, p, s), 60*time.Second)
	}
	runner := composeContainer(t, p, "e2e-tests")
	if res := docker(t, 20*time.Second, "inspect", "-f", "{{.State.Running}}", runner); strings.TrimSpace(res.Out) != "true" {
		t.Errorf("e2e-tests is not running:\n%s", res)
	}
}

//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// The sidecar scenarios: each compose file in testdata/sidecar is the seed's
// solution with one thing changed, wrong or merely not ideal. The projects
// publish no ports, so they cannot clash with the seed's.
const (
	noNetnsCompose     = "testdata/sidecar/no-netns/compose.yaml"
	runtimeCurlCompose = "testdata/sidecar/runtime-curl/compose.yaml"
	busyboxCompose     = "testdata/sidecar/busybox/compose.yaml"
)

// TestComposeSidecarWithoutNetnsIsDenied: the sidecar probes localhost but
// has a network namespace of its own, so the probe would reach the sidecar
// itself and fail forever. HA003, and the fix joins the app's namespace,
// naming the app.
func TestComposeSidecarWithoutNetnsIsDenied(t *testing.T) {
	res := requireDeniedSidecar(t, "nonetns", noNetnsCompose, ImageCurlDev, "HA003")
	requireContains(t, "docker-compose output", res.Out, "localhost", `"app"`, `network_mode: "service:app"`)
}

// TestComposeSidecarOnRuntimeCurlIsDenied: the runtime curl image has curl
// but no sleep, so the sidecar's entrypoint `sleep infinity` cannot start.
// HA004 (not HA002: the healthcheck's curl is there).
func TestComposeSidecarOnRuntimeCurlIsDenied(t *testing.T) {
	res := requireDeniedSidecar(t, "runtimecurl", runtimeCurlCompose, ImageCurl, "HA004")
	requireContains(t, "docker-compose output", res.Out, `"sleep"`, ImageCurlDev)
	if strings.Contains(res.Out, "HA002") {
		t.Errorf("the output names HA002, but the image has the healthcheck's curl:\n%s", res.Out)
	}
}

// TestComposeSidecarOnBusyboxWarns: a sidecar on the Docker Official busybox
// image works (it shares the app's namespace, sleep and wget are there) and
// is allowed; the plugin only warns that the image is not a hardened one
// (HA007). It has a memory limit, so no HA008. Its healthcheck really
// passes. (dhi.io/busybox is a hardened family in the catalog: no HA007.)
func TestComposeSidecarOnBusyboxWarns(t *testing.T) {
	p := newProject(t, "busybox", busyboxCompose)
	offset := suite.Plugin.LogSize()
	if res := p.Compose(t, 2*time.Minute, "up", "-d"); !res.OK() {
		t.Fatalf("docker-compose up failed; the plugin should only have warned:\n%s", res)
	}
	requireCorrectSidecarDecisions(t, offset, map[string]int{ImageNodeDev: 1, ImageBusybox: 1})
	d := requireDecisionOn(t, offset, ImageBusybox, true, "", "")
	if !d.HasWarning("HA007") {
		t.Errorf("the create of the busybox sidecar carries no HA007 warning: %s", d.Line)
	}
	if d.HasWarning("HA008") {
		t.Errorf("the create of the busybox sidecar (32M limit) carries an HA008 warning: %s", d.Line)
	}
	requireHealthy(t, composeContainer(t, p, "app-health"), 60*time.Second)
}

// requireDeniedSidecar brings up the project in file and fails the test
// unless the plugin allowed the app and denied its app-health sidecar (of
// image) with rule, and no sidecar container was made. It returns the
// output of `docker-compose up`.
func requireDeniedSidecar(t *testing.T, prefix, file, image, rule string) Result {
	t.Helper()
	p := newProject(t, prefix, file)
	offset := suite.Plugin.LogSize()
	res := p.Compose(t, 2*time.Minute, "up", "-d")
	if res.OK() {
		t.Fatalf("docker-compose up succeeded; the plugin should have denied the sidecar with %s:\n%s", rule, res)
	}
	requireContains(t, "docker-compose output", res.Out, rule, "authorization denied by plugin "+suite.PluginName, "app-health")
	requireDecisionOn(t, offset, ImageNodeDev, true, "", "")
	requireDecisionOn(t, offset, image, false, rule, "")

	// Denied in AuthZReq: the sidecar's container must not exist at all.
	ps := mustDocker(t, 30*time.Second, "ps", "-a", "-q",
		"--filter", "label=com.docker.compose.project="+p.Name, "--filter", "label=com.docker.compose.service=app-health")
	if strings.TrimSpace(ps.Out) != "" {
		t.Fatalf("the denied sidecar's container exists:\n%s", ps)
	}
	return res
}

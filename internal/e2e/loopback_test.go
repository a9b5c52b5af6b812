//go:build e2e

package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestSidecarProbingZeroAddressIsDenied: a sidecar on the curl -dev image,
// keeping itself alive with `sleep infinity` on the default network, whose
// healthcheck probes http://0.0.0.0:3000/. Connecting to 0.0.0.0 reaches
// the sidecar's own loopback, as localhost would: HA003, and no container.
func TestSidecarProbingZeroAddressIsDenied(t *testing.T) {
	name := "e2e-loopback-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	offset := suite.Plugin.LogSize()
	status, body := curlCreate(t, name, `{"Image":"`+ImageCurlDev+`","Entrypoint":["sleep","infinity"],
		"Healthcheck":{"Test":["CMD","curl","-f","http://0.0.0.0:3000/"]},"HostConfig":{"Memory":33554432}}`)
	if status != http.StatusForbidden {
		t.Fatalf("create answered %d %s; want 403 (HA003)", status, body)
	}
	requireContains(t, "create response", body, "HA003", "http://0.0.0.0:3000/", "authorization denied by plugin "+suite.PluginName)
	requireDecisionOn(t, offset, ImageCurlDev, false, "HA003", "")
	if ins := docker(t, 30*time.Second, "inspect", "--type", "container", name); ins.OK() {
		t.Fatalf("the denied container %s exists", name)
	}
}

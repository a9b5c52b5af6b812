//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Healthcheck tests dockerd cannot run (HA009). The docker CLI cannot send
// them (`--health-cmd` is always ["CMD-SHELL", cmd]), so these scenarios
// speak the Engine API directly, as any other client may. The worst,
// ["CMD"], makes dockerd 20.10 panic at its first probe and exit: the
// plugin must refuse it in AuthZReq, before any container exists.

// TestUnsafeHealthcheckIsDenied sends raw creates whose healthcheck dockerd
// cannot run, each refused with HA009 and a message that says what is
// wrong; no container is made, and the daemon keeps answering.
func TestUnsafeHealthcheckIsDenied(t *testing.T) {
	for _, tc := range []struct {
		name, test string
		want       []string
	}{
		{"exec without program", `["CMD"]`, []string{`the healthcheck is ["CMD"], an exec test with no program to run`, "panics"}},
		{"shell without command", `["CMD-SHELL"]`, []string{`the healthcheck is ["CMD-SHELL"], a shell test with no command`}},
		{"empty shell command", `["CMD-SHELL",""]`, []string{"a CMD-SHELL test with an empty command"}},
		{"unknown type", `["cmd","sh","-c","exit 0"]`, []string{`has the unknown test type "cmd"`, `Write the test type in capitals, "CMD"`}},
		{"program as type", `["/bin/cat","/etc/hostname"]`, []string{`has the unknown test type "/bin/cat"`, `["CMD", "/bin/cat", ...]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "e2e-hc-" + randomHex(3)
			offset := suite.Plugin.LogSize()
			status, body := curlCreate(t, name, fmt.Sprintf(`{"Image":%q,"Cmd":["sleep","60"],"Healthcheck":{"Test":%s,"Interval":1000000000}}`, ImageBusyboxDev, tc.test))
			if status != http.StatusForbidden {
				if status == http.StatusCreated {
					docker(t, 30*time.Second, "rm", "-f", name)
				}
				t.Fatalf("create with healthcheck %s: status %d, want 403:\n%s", tc.test, status, body)
			}
			requireContains(t, "the daemon's answer", body, "authorization denied by plugin "+suite.PluginName, "HA009: container \""+name+"\"")
			requireContains(t, "the daemon's answer", body, tc.want...)
			d := requireDecision(t, offset, false, "HA009")
			if d.HasRule("HA001") || d.HasRule("HA002") {
				t.Errorf("HA001/HA002 reported a test that runs no shell and no program: %s", d.Line)
			}
			requireNoContainer(t, name)
		})
	}
	// Denied in AuthZReq, nothing ran: a second later (the probes' interval)
	// the daemon still answers.
	time.Sleep(2 * time.Second)
	requireDaemonUp(t)
}

// TestRawCreateWithRunnableHealthcheckIsAllowed is the control: the same
// raw request with a test dockerd can run is allowed, so the denials above
// are about the test and not the way it was sent.
func TestRawCreateWithRunnableHealthcheckIsAllowed(t *testing.T) {
	name := "e2e-hc-ok-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	offset := suite.Plugin.LogSize()
	status, body := curlCreate(t, name, fmt.Sprintf(`{"Image":%q,"Cmd":["sleep","60"],"Healthcheck":{"Test":["CMD-SHELL","exit 0"]}}`, ImageBusyboxDev))
	if status != http.StatusCreated {
		t.Fatalf("status %d, want 201:\n%s", status, body)
	}
	requireDecision(t, offset, true, "")
}

// TestImageHealthcheckWithoutProgramIsDenied: an image whose own
// HEALTHCHECK is ["CMD"] (no Dockerfile writes one; the commit API does)
// crashes dockerd 20.10 just as well. A plain `docker create` of it, with no
// healthcheck of its own, inherits the test and is refused; with
// --no-healthcheck it is allowed.
func TestImageHealthcheckWithoutProgramIsDenied(t *testing.T) {
	base := "e2e-hc-base-" + randomHex(3)
	image := "e2e/hc-no-program:" + randomHex(3)
	mustDocker(t, 60*time.Second, "create", "--name", base, ImageBusyboxDev, "true")
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", base) })
	repo, tag, _ := strings.Cut(image, ":")
	status, body := daemonRequest(t, "POST", "/v1.41/commit?"+url.Values{"container": {base}, "repo": {repo}, "tag": {tag}}.Encode(),
		`{"Healthcheck":{"Test":["CMD"],"Interval":1000000000}}`)
	if status != http.StatusCreated {
		t.Fatalf("commit with Healthcheck [\"CMD\"]: status %d:\n%s", status, body)
	}
	t.Cleanup(func() { docker(t, 30*time.Second, "rmi", "-f", image) })
	hc := mustDocker(t, 30*time.Second, "image", "inspect", "-f", "{{json .Config.Healthcheck.Test}}", image)
	if strings.TrimSpace(hc.Stdout) != `["CMD"]` {
		t.Fatalf("the committed image's healthcheck is %s, want [\"CMD\"]", hc.Stdout)
	}

	name := "e2e-hc-img-" + randomHex(3)
	offset := suite.Plugin.LogSize()
	res := docker(t, 60*time.Second, "create", "--name", name, image, "sleep", "60")
	if res.OK() {
		docker(t, 30*time.Second, "rm", "-f", name)
		t.Fatalf("docker create succeeded; the plugin should have denied the image's [\"CMD\"] healthcheck:\n%s", res)
	}
	requireContains(t, "docker create output", res.Out, "authorization denied by plugin "+suite.PluginName,
		"HA009", `the healthcheck inherited from the image is ["CMD"]`, "--no-healthcheck")
	requireDecision(t, offset, false, "HA009")
	requireNoContainer(t, name)

	// Turning the image's healthcheck off is the fix.
	ok := "e2e-hc-off-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", ok) })
	mustDocker(t, 60*time.Second, "create", "--name", ok, "--no-healthcheck", image, "sleep", "60")
	requireDaemonUp(t)
}

// requireDaemonUp fails the test unless the private dockerd answers /_ping.
func requireDaemonUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ping(ctx, unixHTTPClient(suite.Daemon.Socket)); err != nil {
		t.Fatalf("the daemon no longer answers /_ping: %v\n%s", err, tailFile(suite.Daemon.LogPath, 40))
	}
}

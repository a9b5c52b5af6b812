//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hardened-authz/hardened-authz/internal/pluginref"
)

// requireDeniedAnswer fails the test unless dockerd answered 403 with the
// plugin's message naming rule.
func requireDeniedAnswer(t *testing.T, status int, body, rule string, more ...string) {
	t.Helper()
	if status != 403 {
		t.Fatalf("dockerd answered %d %s; want 403 from the plugin with %s", status, body, rule)
	}
	var answer struct{ Message string }
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		t.Fatalf("answer is not the daemon's JSON error (%v): %s", err, body)
	}
	requireContains(t, "dockerd's answer", answer.Message,
		append([]string{"authorization denied by plugin " + suite.PluginName + ": " + rule + ": "}, more...)...)
}

// TestRouteAbsoluteFormCreate: dockerd routes an absolute-form request
// target (any scheme) or "scheme:/path" by its path, as Go's HTTP server
// parses it, while the plugin receives the target as written. A create of
// the shell-less, curl-less node image with a curl healthcheck must be
// denied with HA002 in every form, and no container created.
func TestRouteAbsoluteFormCreate(t *testing.T) {
	body := `{"Image":"` + ImageNode + `","Healthcheck":{"Test":["CMD","curl","-f","http://localhost:3000/"],"Interval":2000000000}}`
	for _, form := range []string{
		"http://x/v1.41/containers/create?name=%s",
		"x:/v1.41/containers/create?name=%s",
		"HTTP://h/v1.41/containers/create?name=%s",
		"unix://d/containers/create?name=%s",
		"http://x/v1.41/containers%2Fcreate?name=%s",
	} {
		t.Run(form, func(t *testing.T) {
			name := "e2e-absform-" + randomHex(3)
			t.Cleanup(func() { suite.Docker.Run(30*time.Second, "docker", "rm", "-f", name) })
			offset := suite.Plugin.LogSize()
			status, answer := daemonRequest(t, "POST", strings.Replace(form, "%s", name, 1), body)
			if status == 201 {
				requireNoContainer(t, name)
			}
			requireDeniedAnswer(t, status, answer, "HA002", `container "`+name+`"`, `"curl"`)
			requireNoContainer(t, name)
			requireDecision(t, offset, false, "HA002")
		})
	}
	// The same create in origin-form, allowed with a healthcheck that can
	// run, proves that the forms above were denied for the probe and not
	// for their form: an absolute-form request is routed, not refused.
	t.Run("allowed when the probe can run", func(t *testing.T) {
		name := "e2e-absform-ok-" + randomHex(3)
		t.Cleanup(func() { suite.Docker.Run(30*time.Second, "docker", "rm", "-f", name) })
		status, answer := daemonRequest(t, "POST", "http://x/v1.41/containers/create?name="+name,
			`{"Image":"`+ImageNode+`","Healthcheck":{"Test":["NONE"]}}`)
		if status != 201 {
			t.Fatalf("create answered %d %s, want 201", status, answer)
		}
	})
}

// TestRouteTargetsDockerdNeverRoutes: targets that dockerd's router
// redirects or does not match never reach a handler, so the plugin may
// classify them strictly: whatever it does, no container is created.
func TestRouteTargetsDockerdNeverRoutes(t *testing.T) {
	body := `{"Image":"` + ImageNode + `"}`
	for _, form := range []string{
		"x:v1.41/containers/create?name=%s",  // opaque: empty path
		"/v1.41/Containers/create?name=%s",   // mux matches case-sensitively
		"/v1.41/containers/create/?name=%s",  // trailing slash: no route
		"//v1.41/containers/create?name=%s",  // unclean: 301
		"/v1.41/containers/./create?name=%s", // unclean: 301
		"http://x?/containers/create&name=%s",
	} {
		t.Run(form, func(t *testing.T) {
			name := "e2e-unrouted-" + randomHex(3)
			t.Cleanup(func() { suite.Docker.Run(30*time.Second, "docker", "rm", "-f", name) })
			status, answer := daemonRequest(t, "POST", strings.Replace(form, "%s", name, 1), body)
			t.Logf("dockerd answered %d %s", status, answer)
			if status/100 == 2 {
				t.Errorf("dockerd answered %d: it ran a handler for %q", status, form)
			}
			requireNoContainer(t, name)
		})
	}
}

// TestRouteAbsoluteFormPluginChange: plugin management in absolute-form
// is routed and decided, not fast-pathed: HA090 refuses this plugin by name.
func TestRouteAbsoluteFormPluginChange(t *testing.T) {
	for _, tc := range []struct{ method, target string }{
		{"DELETE", "http://x/v1.41/plugins/" + suite.PluginName},
		{"POST", "x:/v1.41/plugins/" + suite.PluginName + "/disable"},
		{"POST", "HTTP://h/plugins/acme%2F" + suite.PluginName + ":latest/set"},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			offset := suite.Plugin.LogSize()
			status, answer := daemonRequest(t, tc.method, tc.target, "")
			requireDeniedAnswer(t, status, answer, "HA090", "it is this authorization plugin")
			requireDecision(t, offset, false, "HA090")
		})
	}
}

// managedPlugin creates a managed plugin called name from an empty rootfs
// (docker plugin create: no registry, never enabled) and returns its ID.
func managedPlugin(t *testing.T, name string) string {
	t.Helper()
	mustDocker(t, 60*time.Second, "plugin", "create", name, pluginDir(t))
	id := strings.TrimSpace(mustDocker(t, 30*time.Second, "plugin", "inspect", "--format", "{{.Id}}", name).Stdout)
	if !pluginref.LooksLikeID(id) || len(id) != 64 {
		t.Fatalf("plugin %s has ID %q", name, id)
	}
	return id
}

// TestPluginResolverOnDockerd: the resolver against the real daemon. A
// managed plugin is found by ID prefix and by name; the legacy plugin the
// suite runs is not in dockerd's plugin store, so no ID can name it.
func TestPluginResolverOnDockerd(t *testing.T) {
	name := "e2e-resolve-" + randomHex(3)
	id := managedPlugin(t, name)
	t.Cleanup(func() { docker(t, 30*time.Second, "plugin", "rm", "-f", name) })

	cli, err := client.New(client.WithHost(suite.Daemon.Host()), client.WithAPIVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	r := &pluginref.DaemonResolver{Client: cli, Timeout: 10 * time.Second}
	ctx := context.Background()
	for _, ref := range []string{id, id[:12], name, name + ":latest"} {
		got := r.Resolve(ctx, ref)
		if got.Lookup != pluginref.Found || got.ID != id || got.Name != name+":latest" {
			t.Errorf("Resolve(%q) = %+v; want found %s %s:latest", ref, got, id, name)
		}
	}
	for _, ref := range []string{suite.PluginName, strings.Repeat("f", 12), "UPPER"} {
		if got := r.Resolve(ctx, ref); got.Lookup != pluginref.NotFound {
			t.Errorf("Resolve(%q) = %+v; want not_found", ref, got)
		}
	}
}

// TestRoutePluginInstallUnderThisName: a managed plugin installed under
// this plugin's name would take its place at dockerd's next start or
// reload (dockerd looks authorization plugins up in its plugin store
// first). HA090 refuses it, however the target is written.
func TestRoutePluginInstallUnderThisName(t *testing.T) {
	dir := pluginDir(t)
	name := "acme/" + suite.PluginName + ":v2"
	offset := suite.Plugin.LogSize()
	res := docker(t, 60*time.Second, "plugin", "create", name, dir)
	if res.OK() {
		t.Fatalf("docker plugin create %s succeeded; HA090 should have refused it", name)
	}
	requireContains(t, "docker plugin create output", res.Out,
		"authorization denied by plugin "+suite.PluginName+": HA090: refusing to install a plugin named", name)
	requireDecision(t, offset, false, "HA090")

	// Refused before dockerd pulls anything: no registry is involved.
	status, answer := daemonRequest(t, "POST", "http://x/v1.41/plugins/pull?remote=vieux%2Fsshfs&name="+suite.PluginName, "[]")
	requireDeniedAnswer(t, status, answer, "HA090", "refusing to install a plugin named")
}

// TestRoutePluginChangeByID: dockerd resolves /plugins/{ref} by name, ID
// or unique ID prefix. Another plugin named by an ID prefix, in
// absolute-form, is resolved and removed; one the daemon does not know is
// left to dockerd's own "not found". Needs the authorizer to resolve the
// reference (pluginref) before it evaluates.
func TestRoutePluginChangeByID(t *testing.T) {
	other := "e2e-other-" + randomHex(3)
	otherID := managedPlugin(t, other)
	t.Cleanup(func() { suite.Docker.Run(30*time.Second, "docker", "plugin", "rm", "-f", other) })

	status, answer := daemonRequest(t, "DELETE", "http://x/v1.41/plugins/"+otherID[:12], "")
	if status/100 != 2 {
		t.Fatalf("removing %s (%s) by ID prefix answered %d %s; want it removed", other, otherID[:12], status, answer)
	}
	if res := suite.Docker.Run(30*time.Second, "docker", "plugin", "inspect", otherID); res.OK() {
		t.Fatalf("plugin %s is still there:\n%s", other, res)
	}

	status, answer = daemonRequest(t, "POST", "x:/v1.41/plugins/"+strings.Repeat("f", 12)+"/disable", "")
	if status != 404 {
		t.Fatalf("disabling an unknown ID prefix answered %d %s; want dockerd's 404", status, answer)
	}
}

// TestPluginByIDOnDockerd: a second `authz serve`, named like a managed
// plugin on the suite's dockerd, asked directly over the plugin protocol
// as dockerd would ask it: a request that names that plugin by ID or ID
// prefix is HA090, resolved through the real daemon. (The suite's own
// plugin is a legacy plugin, which has no ID, and HA090 refuses to
// install a managed plugin under its name.)
func TestPluginByIDOnDockerd(t *testing.T) {
	own := "e2e-byid-" + randomHex(3)
	managed := "acme/" + own + ":v9"
	id := managedPlugin(t, managed)
	t.Cleanup(func() { docker(t, 30*time.Second, "plugin", "rm", "-f", managed) })
	other := "e2e-byid-other-" + randomHex(3)
	otherID := managedPlugin(t, other)
	t.Cleanup(func() { docker(t, 30*time.Second, "plugin", "rm", "-f", other) })

	// The suite's image indexes, so the second plugin does not export
	// every image again.
	state := filepath.Join(t.TempDir(), "state")
	if res := (Runner{}).Run(60*time.Second, "cp", "-a", filepath.Join(suite.Dir, "state"), state); !res.OK() {
		t.Logf("no index cache to copy:\n%s", res)
	}
	p := &Plugin{
		Bin:        suite.Plugin.Bin,
		Socket:     filepath.Join(suite.Dir, "byid-"+randomHex(3)+".sock"),
		DockerHost: suite.Daemon.Host(),
		LogPath:    filepath.Join(suite.Dir, "plugin-"+own+".log"),
		Extra:      []string{"--plugin-name", own, "--state-dir", state},
	}
	if err := p.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if code, err := p.Stop(15 * time.Second); err != nil || code != 0 {
			t.Errorf("second plugin: exit %d (%v)", code, err)
		}
	})

	ask := func(method, uri string) authzResponse {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := json.Marshal(map[string]any{"RequestMethod": method, "RequestUri": uri, "RequestHeaders": map[string]string{"User-Agent": "e2e"}})
		resp, err := p.Post(ctx, "/AuthZPlugin.AuthZReq", strings.NewReader(string(req)))
		if err != nil {
			t.Fatalf("AuthZReq %s %s: %v", method, uri, err)
		}
		ar, err := decodeOne(resp.Body)
		if resp.Status != 200 || err != nil {
			t.Fatalf("AuthZReq %s %s: %d %s (%v)", method, uri, resp.Status, resp.Body, err)
		}
		t.Logf("%s %s -> allow %v %s", method, uri, ar.Allow, ar.Msg)
		return ar
	}
	for _, tc := range []struct{ method, uri string }{
		{"DELETE", "http://x/v1.41/plugins/" + id[:12] + "?force=1"},
		{"POST", "/v1.41/plugins/" + id[:5] + "/disable"},
		{"POST", "x:/v1.41/plugins/" + id + "/set"},
		{"POST", "/v1.41/plugins/" + managed + "/upgrade?remote=x"},
	} {
		ar := ask(tc.method, tc.uri)
		if ar.Allow {
			t.Errorf("%s %s was allowed; HA090 should refuse it", tc.method, tc.uri)
			continue
		}
		requireContains(t, "deny message", ar.Msg, "HA090: refusing to", "it is this authorization plugin")
		if !strings.Contains(tc.uri, managed) {
			requireContains(t, "deny message", ar.Msg, "("+managed+")")
		}
	}
	for _, tc := range []struct{ method, uri string }{
		{"DELETE", "/v1.41/plugins/" + otherID[:12]},
		{"POST", "/v1.41/plugins/" + strings.Repeat("f", 12) + "/disable"},
		{"GET", "/v1.41/plugins/" + id[:12] + "/json"},
	} {
		if ar := ask(tc.method, tc.uri); !ar.Allow {
			t.Errorf("%s %s was refused: %s", tc.method, tc.uri, ar.Msg)
		}
	}
}

// pluginDir writes a managed plugin's files, config.json and an empty
// rootfs, for docker plugin create.
func pluginDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugin")
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	// dockerd 20.10 refuses a second plugin whose rootfs is byte for byte
	// the same ("content sha256:… already exists").
	if err := os.WriteFile(filepath.Join(dir, "rootfs", "e2e"), []byte(randomHex(8)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not an authz plugin: nothing could ever consult it.
	config := `{"description":"hardened-authz e2e","documentation":"https://example.invalid/",` +
		`"entrypoint":["/nothing"],"interface":{"types":["docker.volumedriver/1.0"],"socket":"e2e.sock"},` +
		`"network":{"type":"host"}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

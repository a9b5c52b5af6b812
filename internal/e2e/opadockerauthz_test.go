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
)

// cliAs is a docker CLI that identifies itself to opa-docker-authz's example
// policy as user, the way that plugin's tutorial does: an Authz-User header
// on every request, from the CLI configuration's HttpHeaders.
func cliAs(t *testing.T, user string) Runner {
	t.Helper()
	dir := t.TempDir()
	cfg, err := json.Marshal(map[string]any{"HttpHeaders": map[string]string{"Authz-User": user}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	r := suite.Docker
	r.Env = append(append([]string(nil), r.Env...), "DOCKER_CONFIG="+dir)
	return r
}

// run runs the docker CLI through r, logging the result.
func run(t *testing.T, r Runner, args ...string) Result {
	t.Helper()
	res := r.Run(time.Minute, "docker", args...)
	t.Logf("%s\n", res)
	return res
}

// TestOpaDockerAuthzExamplePolicy: with --opa-docker-authz-policy and
// opa-docker-authz's example policy, the docker CLI gets the answers the
// example intends (alice writes, bob only reads, nobody else does
// anything; no seccomp=unconfined; a prod container only on prod-network),
// the plugin's own rules still deny what they deny, and its own calls to
// the daemon pass. The incumbent's documented cases, sent as dockerd sends
// them, are decided as opa-docker-authz decides them.
func TestOpaDockerAuthzExamplePolicy(t *testing.T) {
	policy := filepath.Join(suite.Root, "testdata", "opa-docker-authz", "example.rego")
	logPath := filepath.Join(t.TempDir(), "decisions.log")
	names := []string{"oda-alice-" + randomHex(3), "oda-sidecar-" + randomHex(3)}
	// Registered before the restart, so it runs after the plugin is back
	// without the example policy, which would refuse a CLI without a user.
	t.Cleanup(func() {
		for _, n := range names {
			_ = suite.Docker.Run(30*time.Second, "docker", "rm", "-f", n)
		}
	})
	restartPlugin(t, "--opa-docker-authz-policy", policy, "--decision-log", logPath)
	alice, bob, nobody := cliAs(t, "alice"), cliAs(t, "bob"), suite.Docker
	denied := "authorization denied by plugin " + suite.PluginName + ": HA095: denied by the opa-docker-authz policy " + policy + ": data.docker.authz.allow is undefined"

	offset := suite.Plugin.LogSize()
	// Every request is asked about, not only creates: a list without a
	// user is refused (the CLI's HEAD /_ping, which opa-docker-authz skips,
	// passes).
	if res := run(t, nobody, "ps"); res.OK() || !strings.Contains(res.Out, denied) {
		t.Errorf("docker ps without a user: want %q", denied)
	}
	if res := run(t, bob, "ps"); !res.OK() {
		t.Errorf("docker ps as bob (read-only) must pass")
	}
	if res := run(t, bob, "create", ImageBusybox, "true"); res.OK() || !strings.Contains(res.Out, denied) {
		t.Errorf("docker create as read-only bob: want %q", denied)
	}
	if res := run(t, alice, "create", "--name", names[0], ImageBusybox, "true"); !res.OK() {
		t.Errorf("docker create as alice must pass")
	}
	for _, args := range [][]string{
		{"--security-opt", "seccomp=unconfined"},
		{"--label", "com.example/deployment=prod"},
	} {
		res := run(t, alice, append(append([]string{"create"}, args...), ImageBusybox, "true")...)
		if res.OK() || !strings.Contains(res.Out, denied) {
			t.Errorf("docker create %v as alice: want %q", args, denied)
		}
	}
	// Both must allow: what the example allows, the plugin's own rules
	// still refuse (a shell healthcheck in a shell-less image), with
	// their own message.
	if res := run(t, alice, "create", "--health-cmd", "true", ImageNode); res.OK() || !strings.Contains(res.Out, "HA001") {
		t.Errorf("docker create of a CMD-SHELL healthcheck in %s as alice: want HA001", ImageNode)
	}
	// A create whose healthcheck needs the image's files: the plugin's own
	// calls (image inspect, export) carry no Authz-User and must pass.
	if res := run(t, alice, "create", "--name", names[1], "--entrypoint", "sleep", "--health-cmd", "true", ImageBusyboxDev, "infinity"); !res.OK() {
		t.Errorf("docker create of a healthchecked %s as alice must pass", ImageBusyboxDev)
	}

	decisions, err := suite.Plugin.DecisionsSince(offset)
	if err != nil {
		t.Fatal(err)
	}
	compat := 0
	for _, d := range decisions {
		if !d.HasRule("HA095") {
			continue
		}
		compat++
		if d.Allow() {
			t.Errorf("an HA095 decision that is not a deny: %s", d.Line)
		}
		if p := d.Field("path"); strings.Contains(p, "/images/") || strings.Contains(p, "/events") {
			t.Errorf("the plugin's own call was refused by the opa-docker-authz policy: %s", d.Line)
		}
	}
	if compat != 4 {
		t.Errorf("%d HA095 decisions logged, want 4 (one per command the example refuses)", compat)
	}
	lines := linesAbout(readDecisionLog(t, logPath), `"HA095"`, `"PathPlain":"/v1.41/containers/create"`)
	if len(lines) == 0 {
		t.Fatalf("no HA095 create in the decision log %s", logPath)
	}
	if u, ok := lines[0].get("input", "Headers").(map[string]any); !ok || u["Authz-User"] == nil {
		t.Errorf("the decision log's input is not opa-docker-authz's (no Headers): %s", lines[0].Raw)
	}

	// opa-docker-authz's own documented cases, through the plugin
	// protocol, as dockerd sends them: allow as its tests expect.
	for _, tc := range []struct {
		name  string
		call  map[string]any
		allow bool
	}{
		{"PING", map[string]any{"RequestMethod": "HEAD", "RequestUri": "/_ping"}, true},
		{"create allowed for alice", authzCall("POST", "/v1.47/containers/create", "alice", `{"Image": "busybox"}`), true},
		{"create not allowed for read-only bob", authzCall("POST", "/v1.23/containers/create", "bob", `{"Image": "busybox"}`), false},
		{"GET without a user", map[string]any{"RequestMethod": "GET", "RequestUri": "/v1.41/info"}, false},
		{"README: a pull as alice", authzCall("POST", "/v1.40/images/create?fromImage=registry.company.com%3A8885%2Fbash&tag=latest", "alice", ""), true},
	} {
		body, _ := json.Marshal(tc.call)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := suite.Plugin.Post(ctx, "/AuthZPlugin.AuthZReq", strings.NewReader(string(body)))
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var answer struct{ Allow bool }
		if resp.Status != 200 || json.Unmarshal(resp.Body, &answer) != nil || answer.Allow != tc.allow {
			t.Errorf("%s: %d %s, want allow %v", tc.name, resp.Status, resp.Body, tc.allow)
		}
	}
}

// authzCall is an AuthZReq call as dockerd makes it for a client request
// with an Authz-User header and, when body is not empty, a JSON body.
func authzCall(method, uri, user, body string) map[string]any {
	headers := map[string]string{"Authz-User": user, "User-Agent": "Docker-Client/28.2.2 (linux)"}
	call := map[string]any{"RequestMethod": method, "RequestUri": uri, "RequestHeaders": headers}
	if body != "" {
		headers["Content-Type"] = "application/json"
		call["RequestBody"] = []byte(body)
	}
	return call
}

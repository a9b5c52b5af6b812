package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/loadgen"
)

// `authz serve --opa-docker-authz-policy`: the policy decides every call
// beside the plugin's own rules, and a changed file is reloaded once it
// compiles, while a broken one leaves the running version deciding.
func TestServeOpaDockerAuthzPolicyReloads(t *testing.T) {
	self, dir := serveDir(t, "oda")
	sock, policy := filepath.Join(dir, "authz.sock"), filepath.Join(dir, "authz.rego")
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(policy+".tmp", []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(policy+".tmp", policy); err != nil {
			t.Fatal(err)
		}
	}
	write("package docker.authz\n\ndefault allow := false\n\nallow if input.Method == \"GET\"\n")
	_, stderr := startServe(t, self, "--socket", sock, "--state-dir", "", "--docker-host", "unix://"+filepath.Join(dir, "none.sock"),
		"--opa-docker-authz-policy", policy)
	deadline := time.Now().Add(60 * time.Second)
	for loadgen.Activate(context.Background(), sock) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("authz serve did not answer in 60s:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	plugin := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	call := func(method, uri string) (bool, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"RequestMethod": method, "RequestUri": uri})
		res, err := plugin.Post("http://plugin/AuthZPlugin.AuthZReq", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct {
			Allow bool
			Msg   string
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Allow, out.Msg
	}
	if allow, msg := call("GET", "/v1.41/containers/json"); !allow {
		t.Fatalf("GET denied: %s", msg)
	}
	want := "HA095: denied by the opa-docker-authz policy " + policy + ": data.docker.authz.allow is false."
	if allow, msg := call("POST", "/v1.41/containers/x/stop"); allow || msg != want {
		t.Fatalf("POST: allow %v, message %q, want %q", allow, msg, want)
	}
	waitLog := func(what string, n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(stderr.String(), what) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%q not logged\n%s", what, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	write("package docker.authz\n\ndefault allow := false\n\nallow if input.Method in {\"GET\", \"POST\"}\n")
	waitLog("opa-docker-authz policy reloaded", 1)
	if allow, msg := call("POST", "/v1.41/containers/x/stop"); !allow {
		t.Fatalf("POST after the reload: %s", msg)
	}
	write("package docker.authz\n\nallow if {\n")
	waitLog("policy reload rejected", 1)
	if !strings.Contains(stderr.String(), policy+":") {
		t.Errorf("the rejected reload does not name the file and line:\n%s", stderr.String())
	}
	if allow, msg := call("POST", "/v1.41/containers/x/stop"); !allow {
		t.Fatalf("after a broken edit the last good version must decide: %s", msg)
	}
}

// A policy that does not compile, or is missing, stops serve at start with
// the file and line; --check-only says so without serving.
func TestServeOpaDockerAuthzPolicyAtStart(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.rego"), filepath.Join(dir, "bad.rego")
	if err := os.WriteFile(good, []byte("package docker.authz\nallow := true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("package docker.authz\n\nallow if count(1) == 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := run(t, "serve", "--check-only", "--opa-docker-authz-policy", good); code != 0 || !strings.Contains(stdout, "valid") {
		t.Errorf("a good policy: exit %d\n%s%s", code, stdout, stderr)
	}
	_, stderr, code := run(t, "serve", "--check-only", "--opa-docker-authz-policy", bad)
	if code != 1 || !strings.Contains(stderr, bad+":3") || !strings.Contains(stderr, "does not compile") {
		t.Errorf("a policy that does not compile: exit %d, want 1 naming %s:3\n%s", code, bad, stderr)
	}
	_, stderr, code = run(t, "serve", "--check-only", "--opa-docker-authz-policy", filepath.Join(dir, "missing.rego"))
	if code != 2 || !strings.Contains(stderr, "missing.rego") {
		t.Errorf("a missing policy: exit %d, want 2 naming the file\n%s", code, stderr)
	}
}

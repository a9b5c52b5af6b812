package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/loadgen"
)

// `authz bench` against a started `authz serve` (no daemon) drives every
// kind to completion, with the plugin's decisions, the floor's, and no
// errors.
func TestBenchAgainstServe(t *testing.T) {
	self, dir := serveDir(t, "bench")
	sock := filepath.Join(dir, "authz.sock")
	_, stderr := startServe(t, self, "--socket", sock, "--state-dir", "", "--docker-host", "unix://"+filepath.Join(dir, "none.sock"), "--log-level", "warn")
	deadline := time.Now().Add(60 * time.Second)
	for loadgen.Activate(context.Background(), sock) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("authz serve did not answer in 60s:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	stdout, stderrOut, code := run(t, "bench", "--socket", sock, "--kind", "ping,create-deny,mix", "--duration", "300ms", "--warmup", "50ms", "--concurrency", "4", "--format", "json")
	if code != 0 {
		t.Fatalf("authz bench: exit %d\n%s%s", code, stderrOut, stdout)
	}
	var rep loadgen.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--format json: %v\n%s", err, stdout)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("%d results, want ping, create-deny and mix", len(rep.Results))
	}
	for _, c := range rep.Results {
		if c.Plugin.Calls == 0 || c.Floor.Calls == 0 || c.Errors() != 0 || c.P50Ratio <= 0 {
			t.Errorf("%s: plugin %d calls, floor %d, %d errors, p50 ratio %v", c.Kind, c.Plugin.Calls, c.Floor.Calls, c.Errors(), c.P50Ratio)
		}
		if c.Floor.Denied != 0 {
			t.Errorf("%s: the allow-all floor denied %d", c.Kind, c.Floor.Denied)
		}
	}
	if c := rep.Results[1]; c.Plugin.Allowed != 0 || c.Plugin.Denied == 0 {
		t.Errorf("create-deny: the plugin allowed %d, denied %d; want every one denied (HA002)", c.Plugin.Allowed, c.Plugin.Denied)
	}
	if c := rep.Results[2]; c.Plugin.Allowed == 0 || c.Plugin.Denied == 0 {
		t.Errorf("mix: allowed %d, denied %d; want both", c.Plugin.Allowed, c.Plugin.Denied)
	}

	// The text table, by request count.
	stdout, stderrOut, code = run(t, "bench", "--socket", sock, "--kind", "inspect", "--requests", "50", "--warmup", "0")
	if code != 0 || !strings.Contains(stdout, "plugin/floor") || !strings.Contains(stdout, "decisions/s") {
		t.Fatalf("text output: exit %d\n%s%s", code, stdout, stderrOut)
	}

	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"bench"},
		{"bench", "--socket", sock, "--kind", "nope"},
		{"bench", "--socket", sock, "--format", "xml"},
		{"bench", "--socket", sock, "--concurrency", "0"},
	} {
		if _, _, code := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	// No plugin on the socket: a failure, not a report of nothing.
	if _, errOut, code := run(t, "bench", "--socket", filepath.Join(dir, "none.sock"), "--requests", "1"); code != 1 || !strings.Contains(errOut, "none.sock") {
		t.Errorf("no plugin: exit %d %q, want 1 naming the socket", code, errOut)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestObservabilityFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--decision-log", "-", "--mask", "container/labels"},
		{"--mask", "/container/labels/secret*"},
	} {
		cmd := newRootCommand()
		cmd.SetArgs(append([]string{"serve", "--socket", filepath.Join(t.TempDir(), "p.sock")}, args...))
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(context.Background())
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// `authz serve` with --decision-log and --metrics-addr: /readyz turns 200
// once the socket listens, a decided create is one log line and moves the
// counters, and SIGUSR1 sends the next lines to a new file after
// rotation.
func TestServeLogsDecisionsAndServesMetrics(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sock, logPath, addr := filepath.Join(dir, "authz.sock"), filepath.Join(dir, "decisions.log"), freeAddr(t)
	host, _ := slowDaemon(t)
	proc, stderr := startServe(t, self, "--socket", sock, "--docker-host", host, "--daemon-timeout", "100ms",
		"--state-dir", "", "--decision-log", logPath, "--metrics-addr", addr, "--mask", "/container/labels/owner")

	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never 200\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if res, err := http.Get(base + "/healthz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", res, err)
	}

	plugin := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	create := func() map[string]any {
		body, _ := json.Marshal(map[string]any{
			"Image":       "dhi.io/node:25-debian13-sfw-ent-dev",
			"Healthcheck": map[string]any{"Test": []string{"CMD", "curl", "-f", "http://localhost:3000/"}},
			"Labels":      map[string]string{"owner": "alice@example.com"},
		})
		call, _ := json.Marshal(map[string]any{"RequestMethod": "POST", "RequestUri": "/v1.41/containers/create?name=app", "RequestBody": body,
			"RequestHeaders": map[string]string{"Content-Type": "application/json"}})
		res, err := plugin.Post("http://plugin/AuthZPlugin.AuthZReq", "application/json", bytes.NewReader(call))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if res := create(); res["Allow"] != false || !strings.Contains(res["Msg"].(string), "HA002") {
		t.Fatalf("create: %v", res)
	}
	log1, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		Rules  []string
		Result struct{ Allow bool }
		Input  struct {
			Container struct{ Labels map[string]string }
		}
	}
	if err := json.Unmarshal(log1, &line); err != nil || bytes.Count(log1, []byte("\n")) != 1 {
		t.Fatalf("decision log: %v\n%s", err, log1)
	}
	if line.Result.Allow || len(line.Rules) == 0 || line.Rules[0] != "HA002" || line.Input.Container.Labels["owner"] != "<redacted>" {
		t.Errorf("decision log line: %+v", line)
	}

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`hardened_authz_decisions_total{action="container.create",result="deny"} 1`,
		`hardened_authz_rule_findings_total{action="container.create",effect="deny",rule="HA002"} 1`,
		`hardened_authz_decision_log_dropped_total 0`,
		`hardened_authz_policy_revision_info{revision=`,
		`process_resident_memory_bytes`,
	} {
		if !bytes.Contains(scrape, []byte(want)) {
			t.Errorf("scrape lacks %s", want)
		}
	}

	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := proc.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "reopened on SIGUSR1") {
		if time.Now().After(deadline) {
			t.Fatalf("no reopen logged\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	create()
	if b, err := os.ReadFile(logPath); err != nil || bytes.Count(b, []byte("\n")) != 1 {
		t.Errorf("after SIGUSR1 the new file has %q, %v", b, err)
	}
	if b, _ := os.ReadFile(logPath + ".1"); !bytes.Equal(b, log1) {
		t.Errorf("the rotated file changed")
	}
}

// startServe runs `authz serve args...` as a process of its own (self is
// this test binary, which runs main when runMainEnv is set) and stops it
// with SIGTERM when the test ends: it must exit 0 within 15 s. It returns
// the process, for signals, and its stderr.
func startServe(t *testing.T, self string, args ...string) (*os.Process, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(self, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("authz serve: %v\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("authz serve still running 15s after SIGTERM")
		}
	})
	return cmd.Process, stderr
}

// syncBuffer is a buffer a subprocess's output is copied into while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveDir is a directory for a started plugin's socket and files, with a
// short path (unix socket paths are limited to about 100 bytes), removed
// when the test ends, after the plugin stops. self is this test binary,
// which startServe runs.
func serveDir(t *testing.T, prefix string) (self, dir string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return self, dir
}

package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runMainEnv makes the test binary run authz's main instead of the tests
// (see TestMain), so that a test can signal a real authz process without
// building one.
const runMainEnv = "AUTHZ_TEST_RUN_MAIN"

// TestMain runs main when the test binary is started as authz by a test:
// os.Args are then authz's arguments.
func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Args = append([]string{"authz"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// slowDaemon is a Docker API on a unix socket that answers the ping and
// then never answers anything else, as a daemon stuck on a slow disk: it
// reports each request it holds on blocked.
func slowDaemon(t *testing.T) (host string, blocked <-chan string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan string, 16)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Api-Version", "1.47")
			w.Header().Set("Ostype", "linux")
			w.WriteHeader(http.StatusOK)
			return
		}
		select {
		case held <- r.URL.Path:
		default:
		}
		<-r.Context().Done()
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock, held
}

// SIGINT (Ctrl-C) and SIGTERM stop `authz check` at once, with the
// shell's status for the signal, even while it waits on a daemon that
// does not answer and with deadlines far away.
func TestCheckStopsOnSignal(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  app:\n    image: dhi.io/node:25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			host, blocked := slowDaemon(t)
			cmd := exec.Command(self, "check", "--docker-host", host, "--daemon-timeout", "10m", "--scan-timeout", "10m", dir)
			cmd.Env = append(os.Environ(), runMainEnv+"=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case path := <-blocked:
				t.Logf("blocked on %s", path)
			case err := <-done:
				t.Fatalf("authz check returned before asking the daemon: %v\n%s", err, stderr.String())
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatal("authz check never asked the daemon")
			}
			sent := time.Now()
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != tc.code {
					t.Errorf("after %s: %v, want exit status %d\n%s", tc.sig, err, tc.code, stderr.String())
				}
				if d := time.Since(sent); d > 3*time.Second {
					t.Errorf("stopped %v after %s", d, tc.sig)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running 10s after %s\n%s", tc.sig, stderr.String())
			}
		})
	}
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

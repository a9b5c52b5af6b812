package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/plugin"
	"github.com/hardened-authz/hardened-authz/internal/sdnotify"
)

// unitDir is where the shipped systemd units live, from this package.
const unitDir = "../../packaging/systemd"

// needTool finds a systemd tool. Without it the test fails, saying what
// to install, as CI (.ci/run installs Debian's systemd package) must run
// it; only -short leaves these tests out, for a machine without systemd.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if testing.Short() {
		t.Skipf("-short: %s not found", name)
	}
	t.Fatalf("%s not found: apt-get install systemd (its tools run without systemd as PID 1), or go test -short to leave this test out", name)
	return ""
}

// TestSystemdUnitsVerify runs systemd-analyze verify on the shipped units,
// with ExecStart pointed at a binary that exists here. It works without
// systemd as PID 1; any complaint (an unknown key, a bad value) fails.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze := needTool(t, "systemd-analyze")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"hardened-authz.service", "hardened-authz.socket"} {
		data, err := os.ReadFile(filepath.Join(unitDir, name))
		if err != nil {
			t.Fatal(err)
		}
		unit := string(data)
		if name == "hardened-authz.service" {
			if !strings.Contains(unit, "\nExecStart=/usr/local/bin/authz serve\n") || !strings.Contains(unit, "\nType=notify\n") {
				t.Fatalf("%s: want Type=notify and ExecStart=/usr/local/bin/authz serve (the README's install path)", name)
			}
			unit = strings.Replace(unit, "ExecStart=/usr/local/bin/authz", "ExecStart="+self, 1)
		} else if !strings.Contains(unit, "\nListenStream="+plugin.DefaultSocket+"\n") {
			t.Fatalf("%s: want ListenStream=%s, where dockerd finds the plugin", name, plugin.DefaultSocket)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "hardened-authz.service"), filepath.Join(dir, "hardened-authz.socket")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestServeUnderSocketActivation starts `authz serve` the way
// hardened-authz.socket and the Type=notify service do, with systemd's own
// systemd-socket-activate: it must answer dockerd's first call on the
// socket it inherits (not create --socket), tell the notification socket
// READY=1, and on SIGTERM say STOPPING=1, exit 0 and leave the socket.
func TestServeUnderSocketActivation(t *testing.T) {
	activate := needTool(t, "systemd-socket-activate")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Socket paths must stay under 108 bytes; t.TempDir's may not.
	dir, err := os.MkdirTemp("", "sdact")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "authz.sock")
	notSock := filepath.Join(dir, "not-used.sock")
	notifyPath := filepath.Join(dir, "notify")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()

	// systemd-socket-activate passes on only the variables -E names, as
	// systemd gives a service only its unit's environment.
	cmd := exec.Command(activate, "-l", sock, "--fdname=hardened-authz",
		"-E", runMainEnv+"=1", "-E", sdnotify.SocketEnv+"="+notifyPath,
		self, "serve", "--socket", notSock, "--docker-host", "unix://"+filepath.Join(dir, "no-docker.sock"),
		"--state-dir", "", "--log-level", "debug")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logc := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		logc <- b.String()
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			<-exited
			t.Logf("log:\n%s", <-logc)
		}
	}()

	// systemd-socket-activate listens first and starts the service on the
	// first connection, as a socket unit does at dockerd's first call.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-socket-activate does not listen on %s: %v", sock, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := client.Post("http://plugin.moby.localhost/Plugin.Activate", "application/json", nil)
	if err != nil {
		t.Fatalf("Plugin.Activate on the activated socket: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"authz"`) {
		t.Fatalf("Plugin.Activate: %d %s", resp.StatusCode, body)
	}
	if got := readNotification(t, notify); got != sdnotify.Ready {
		t.Fatalf("first notification %q, want %q", got, sdnotify.Ready)
	}
	if _, err := os.Lstat(notSock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve created --socket %s although systemd passed a socket (stat: %v)", notSock, err)
	}

	killed = true
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := readNotification(t, notify); got != sdnotify.Stopping {
		t.Errorf("notification after SIGTERM %q, want %q", got, sdnotify.Stopping)
	}
	select {
	case err := <-exited:
		log := <-logc
		if err != nil {
			t.Errorf("serve exited with %v on SIGTERM, want 0\n%s", err, log)
		}
		for _, want := range []string{`"msg":"socket from systemd"`, `"socket":"` + sock + `"`} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %s:\n%s", want, log)
			}
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("serve did not stop within 30 s of SIGTERM\n%s", <-logc)
	}
	// The socket is the socket unit's: it stays for the next start.
	if st, err := os.Lstat(sock); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("the activated socket %s is gone after the stop (%v)", sock, err)
	}
}

func readNotification(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification from serve: %v", err)
	}
	return fmt.Sprint(string(buf[:n]))
}

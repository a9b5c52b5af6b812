package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// listen opens a unixgram socket at addr, as systemd's notification socket.
func listen(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifyPathSocket(t *testing.T) {
	// t.TempDir paths can pass the 108-byte limit of socket paths.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	addr := filepath.Join(dir, "notify")
	c := listen(t, addr)
	t.Setenv(SocketEnv, addr)
	for _, msg := range []string{Ready, Stopping} {
		sent, err := Notify(msg)
		if err != nil || !sent {
			t.Fatalf("Notify(%q) = %v, %v; want true, nil", msg, sent, err)
		}
		if got := receive(t, c); got != msg {
			t.Errorf("received %q, want %q", got, msg)
		}
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	addr := fmt.Sprintf("@hardened-authz-sdnotify-test-%d", os.Getpid())
	c := listen(t, addr)
	sent, err := NotifySocket(addr, Ready)
	if err != nil || !sent {
		t.Fatalf("NotifySocket(%q) = %v, %v; want true, nil", addr, sent, err)
	}
	if got := receive(t, c); got != Ready {
		t.Errorf("received %q, want %q", got, Ready)
	}
}

func TestNotifyWithoutSocketDoesNothing(t *testing.T) {
	t.Setenv(SocketEnv, "")
	sent, err := Notify(Ready)
	if sent || err != nil {
		t.Fatalf("Notify without %s = %v, %v; want false, nil", SocketEnv, sent, err)
	}
}

func TestNotifyErrors(t *testing.T) {
	for _, addr := range []string{"relative/path", "vsock:2:1234", "/nonexistent-dir-sdnotify/notify"} {
		if sent, err := NotifySocket(addr, Ready); err == nil || sent {
			t.Errorf("NotifySocket(%q) = %v, %v; want an error", addr, sent, err)
		}
	}
}

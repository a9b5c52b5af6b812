package plugin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary act as a socket-activated service in
// TestInheritedChild: the value says what to set LISTEN_PID to before
// Inherited runs ("self", as systemd does in the forked child, or "other").
const childEnv = "HARDENED_AUTHZ_ACTIVATION_CHILD"

// TestInheritedChild is the child side of the activation tests; it does
// nothing in a normal run.
func TestInheritedChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return
	}
	pid := os.Getpid()
	if mode == "other" {
		pid = os.Getppid()
	}
	os.Setenv(listenPIDEnv, strconv.Itoa(pid))
	l, err := Inherited()
	for _, v := range []string{listenPIDEnv, listenFDsEnv, listenFDNamesEnv} {
		if _, set := os.LookupEnv(v); set {
			fmt.Printf("ERROR %s still set\n", v)
		}
	}
	switch {
	case err != nil:
		fmt.Printf("ERROR %v\n", err)
		return
	case l == nil:
		fmt.Println("NONE")
		return
	case !IsInherited(l):
		fmt.Println("ERROR not marked inherited")
		return
	}
	fmt.Printf("LISTENING %s\n", l.Addr())
	// Serve the way the plugin does until the parent closes our stdin.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "served by the child") })
	if err := Serve(ctx, l, h, nil); err != nil {
		fmt.Printf("ERROR serve: %v\n", err)
	}
	fmt.Println("STOPPED")
}

// startChild runs TestInheritedChild with f as its fd 3 and LISTEN_FDS
// set, and returns the first line it prints, the rest of its output, and
// a function that closes its stdin: its cue to stop serving.
func startChild(t *testing.T, mode string, f *os.File) (first string, lines *bufio.Scanner, stop func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestInheritedChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, listenFDsEnv+"=1", listenFDNamesEnv+"=hardened-authz")
	cmd.ExtraFiles = []*os.File{f}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		timer := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
		defer timer.Stop()
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	})
	lines = bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("the child printed nothing: %v", lines.Err())
	}
	return lines.Text(), lines, func() { stdin.Close() }
}

// shortDir is a temporary directory whose paths fit a unix socket address.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "act")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestInheritedServesOnTheSocketItGot(t *testing.T) {
	sock := filepath.Join(shortDir(t), "authz.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	// The socket is systemd's in real life: this process keeps it open but
	// must not unlink it, as the child must not either.
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	defer f.Close()

	first, lines, stop := startChild(t, "self", f)
	if first != "LISTENING "+sock {
		t.Fatalf("child said %q, want LISTENING %s", first, sock)
	}
	f.Close() // only the child holds the socket now

	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: 10 * time.Second}
	resp, err := client.Get("http://plugin/Plugin.Activate")
	if err != nil {
		t.Fatalf("call the child on the inherited socket: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "served by the child" {
		t.Fatalf("answer %q", body)
	}
	client.CloseIdleConnections()

	stop()
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	// The test framework adds its own PASS line.
	if len(rest) == 0 || rest[0] != "STOPPED" {
		t.Errorf("child's last words: %q, want STOPPED", rest)
	}
	// The socket unit owns the file: it survives the service's stop.
	if st, err := os.Lstat(sock); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("the inherited socket %s is gone after the stop (%v)", sock, err)
	}
}

func TestInheritedIgnoresAnotherProcesssVariables(t *testing.T) {
	sock := filepath.Join(shortDir(t), "authz.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if first, _, _ := startChild(t, "other", f); first != "NONE" {
		t.Fatalf("child said %q, want NONE: LISTEN_PID names another process", first)
	}
}

func TestInheritedRefusesWhatIsNotAListeningUnixSocket(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tf, err := tcp.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	regular, err := os.CreateTemp(t.TempDir(), "notasocket")
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	for name, tc := range map[string]struct {
		f    *os.File
		want string
	}{
		"tcp":     {tf, "ListenStream=/run/docker/plugins/hardened-authz.sock"},
		"regular": {regular, "not a listening socket"},
	} {
		t.Run(name, func(t *testing.T) {
			first, _, _ := startChild(t, "self", tc.f)
			if !strings.HasPrefix(first, "ERROR ") || !strings.Contains(first, tc.want) {
				t.Fatalf("child said %q, want an error with %q", first, tc.want)
			}
		})
	}
}

func TestNoActivationWithoutVariables(t *testing.T) {
	t.Setenv(listenPIDEnv, "")
	t.Setenv(listenFDsEnv, "")
	if l, err := Inherited(); l != nil || err != nil {
		t.Fatalf("Inherited() = %v, %v without LISTEN_*; want nil, nil", l, err)
	}
}

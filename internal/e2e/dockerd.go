//go:build e2e

package e2e

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
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Daemon is a private dockerd whose whole state (data root, exec root, pid
// file, API socket, log) lives under one directory, so it never shares
// anything with a system daemon that may run on the same machine.
type Daemon struct {
	// Dir holds everything the daemon writes.
	Dir string
	// Socket is the path of its API socket.
	Socket string
	// LogPath is where its stdout and stderr go.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
	err  error         // Wait's result, valid once done is closed
}

// Host is the DOCKER_HOST value that reaches the daemon.
func (d *Daemon) Host() string { return "unix://" + d.Socket }

// PID is the daemon's process ID.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// StartDaemon starts dockerd with configFile and its state under dir, then
// waits at most wait for its API to answer /_ping (which also proves the
// authorization plugin in configFile answers, since /_ping goes through it).
// On failure the daemon is stopped and the error carries its log tail.
func StartDaemon(dir, configFile string, wait time.Duration) (*Daemon, error) {
	d := &Daemon{
		Dir:     dir,
		Socket:  filepath.Join(dir, "docker.sock"),
		LogPath: filepath.Join(dir, "dockerd.log"),
		done:    make(chan struct{}),
	}
	logf, err := os.Create(d.LogPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own copy of the descriptor

	// Not exec.CommandContext: the daemon outlives every single step; Stop
	// and the suite's teardown bound its end.
	d.cmd = exec.Command("dockerd",
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", d.Host(),
		"--config-file", configFile,
		// Leave the host's network as it was: no docker0 bridge and no
		// iptables chains outlive the run. Compose projects get their own
		// bridge, removed by "down"; published ports go through the
		// userland proxy, and sidecars share their app's namespace.
		"--bridge", "none",
		"--iptables=false",
	)
	d.cmd.Stdout = logf
	d.cmd.Stderr = logf
	// A process group of its own: a Ctrl-C at the terminal must reach the
	// suite, which then shuts the daemon down in order, not the daemon
	// directly; and a last-resort SIGKILL can take its containerd along.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()

	if err := d.waitReady(wait); err != nil {
		_ = d.Stop(20 * time.Second)
		return nil, fmt.Errorf("%w\n--- last lines of %s ---\n%s", err, d.LogPath, tailFile(d.LogPath, 40))
	}
	return d, nil
}

// waitReady polls GET /_ping until it answers 200 "OK", the process exits or
// the deadline passes.
func (d *Daemon) waitReady(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	client := unixHTTPClient(d.Socket)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return fmt.Errorf("dockerd exited during startup: %v", d.err)
		default:
		}
		// A single ping can stall for ~15 s while dockerd retries an
		// unreachable authorization plugin, so each try gets its own bound.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		last = ping(ctx, client)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("dockerd did not answer /_ping on %s within %s (last error: %v)", d.Socket, wait, last)
}

func ping(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/_ping: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Stop asks the daemon to shut down (SIGTERM: it stops its containers and its
// containerd), waits up to grace, then kills its whole process group.
func (d *Daemon) Stop(grace time.Duration) error {
	return stopPID(d.cmd.Process.Pid, d.Dir, grace)
}

// unixHTTPClient is an HTTP client whose every connection goes to the unix
// socket at path, whatever host the URL names.
func unixHTTPClient(path string) *http.Client {
	var dialer net.Dialer
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "unix", path)
			},
			DisableKeepAlives: true,
		},
	}
}

// UnmountUnder lazily unmounts every mount point at or below dir, deepest
// first. dockerd can leave overlay, shm, netns and bind mounts behind (it
// even bind-mounts its data root onto itself), and a directory with live
// mounts cannot be removed.
func UnmountUnder(dir string) error {
	dir = filepath.Clean(dir)
	var errs []error
	// Mounts can be stacked on one path, so repeat until none is left.
	for range 10 {
		points, err := mountPointsUnder(dir)
		if err != nil {
			return err
		}
		if len(points) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, p := range points {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("umount %s: %w", p, err))
			}
		}
	}
	points, _ := mountPointsUnder(dir)
	if len(points) > 0 {
		errs = append(errs, fmt.Errorf("still mounted: %s", strings.Join(points, ", ")))
	}
	return errors.Join(errs...)
}

// mountPointsUnder lists the mount points at or below dir from
// /proc/self/mountinfo, deepest first.
func mountPointsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountinfo(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) that the
// kernel uses in /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tailFile returns the last n lines of the file at path, or a note why not.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

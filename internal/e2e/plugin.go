//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Plugin is one `authz serve` process: the legacy authorization plugin under
// test, listening on a unix socket that dockerd finds through a spec file.
type Plugin struct {
	// Bin is the authz binary.
	Bin string
	// Socket is the path it serves the plugin protocol on.
	Socket string
	// DockerHost is the daemon it calls back (image inspect and export).
	DockerHost string
	// Extra are more arguments for `authz serve`.
	Extra []string
	// LogPath collects its stderr, appended across restarts.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
}

// Args is the command line after the binary name.
func (p *Plugin) Args() []string {
	return append([]string{"serve", "--socket", p.Socket, "--docker-host", p.DockerHost}, p.Extra...)
}

// Start starts the plugin and waits at most wait until it answers
// Plugin.Activate with the authz interface.
func (p *Plugin) Start(wait time.Duration) error {
	if p.cmd != nil && !p.Exited() {
		return errors.New("plugin already running")
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "### e2e: starting %s %s\n", p.Bin, strings.Join(p.Args(), " "))

	p.cmd = exec.Command(p.Bin, p.Args()...)
	p.cmd.Stdout = logf
	p.cmd.Stderr = logf
	// Own process group: see StartDaemon.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start plugin: %w", err)
	}
	done := make(chan struct{})
	p.done = done
	cmd := p.cmd
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	deadline := time.Now().Add(wait)
	var last error
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("plugin exited during startup (%s)\n--- last lines of %s ---\n%s", p.cmd.ProcessState, p.LogPath, tailFile(p.LogPath, 30))
		}
		if last = p.activate(); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, _ = p.Stop(5 * time.Second)
	return fmt.Errorf("plugin did not answer Plugin.Activate on %s within %s (last error: %v)\n--- last lines of %s ---\n%s",
		p.Socket, wait, last, p.LogPath, tailFile(p.LogPath, 30))
}

func (p *Plugin) activate() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := p.Post(ctx, "/Plugin.Activate", nil)
	if err != nil {
		return err
	}
	var a struct{ Implements []string }
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &a) != nil {
		return fmt.Errorf("Plugin.Activate: %d %s", resp.Status, resp.Body)
	}
	for _, i := range a.Implements {
		if i == "authz" {
			return nil
		}
	}
	return fmt.Errorf("Plugin.Activate does not implement authz: %s", resp.Body)
}

// PID is the process ID of the current (or last) plugin process.
func (p *Plugin) PID() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited tells whether the plugin process has ended.
func (p *Plugin) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to grace for a clean exit; then it kills
// the process. It returns the exit code (-1 when killed by a signal).
func (p *Plugin) Stop(grace time.Duration) (int, error) {
	if p.cmd == nil {
		return 0, errors.New("plugin never started")
	}
	if !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			return -1, fmt.Errorf("plugin ignored SIGTERM for %s and was killed", grace)
		}
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// PluginResponse is one raw HTTP answer of the plugin.
type PluginResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// Post sends one plugin-protocol call, as dockerd would: POST with the
// plugin Accept header and a JSON content type.
func (p *Plugin) Post(ctx context.Context, method string, body io.Reader) (*PluginResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugin.moby.localhost"+method, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.docker.plugins.v1.2+json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := unixHTTPClient(p.Socket).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return &PluginResponse{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// LogSize is the current length of the plugin log, to read only what a step
// adds with DecisionsSince.
func (p *Plugin) LogSize() int64 {
	fi, err := os.Stat(p.LogPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Decision is one "decision" line of the plugin's JSON log.
type Decision struct {
	// Line is the raw JSON line.
	Line string
	// Fields is the decoded line.
	Fields map[string]any
}

// Allow is the decision's "allow" field.
func (d Decision) Allow() bool {
	b, _ := d.Fields["allow"].(bool)
	return b
}

// HasRule tells whether the decision's "rules" field names rule.
func (d Decision) HasRule(rule string) bool {
	raw, err := json.Marshal(d.Fields["rules"])
	return err == nil && bytes.Contains(raw, []byte(`"`+rule))
}

// HasWarning tells whether the decision's "warnings" field (the rules that
// warned on an allowed request) names rule.
func (d Decision) HasWarning(rule string) bool {
	raw, err := json.Marshal(d.Fields["warnings"])
	return err == nil && bytes.Contains(raw, []byte(`"`+rule))
}

// Field is the decision's string field key ("image", "image_source"), ""
// when it is absent or not a string.
func (d Decision) Field(key string) string {
	s, _ := d.Fields[key].(string)
	return s
}

// DecisionsSince returns the decision lines logged after offset.
func (p *Plugin) DecisionsSince(offset int64) ([]Decision, error) {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	var out []Decision
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "decision" {
			continue
		}
		out = append(out, Decision{Line: line, Fields: m})
	}
	return out, sc.Err()
}

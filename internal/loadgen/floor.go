package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// AllowAll is the floor: the cheapest correct authorization plugin. It
// answers the handshake and allows every call, after reading the call
// (dockerd's body has to be consumed on any plugin), with no decoding.
func AllowAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.1+json")
		if r.URL.Path == "/Plugin.Activate" {
			w.Write([]byte(`{"Implements":["authz"]}` + "\n"))
			return
		}
		w.Write([]byte(`{"Allow":true}` + "\n"))
	})
}

// Floor is an allow-all plugin serving on a unix socket of its own.
type Floor struct {
	// Socket is where it listens.
	Socket string
	srv    *http.Server
	dir    string
	done   chan struct{}
}

// StartFloor serves AllowAll on a new socket in a private temporary
// directory, with the same server settings a Go plugin has by default.
func StartFloor() (*Floor, error) {
	dir, err := os.MkdirTemp("", "authz-bench-floor-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "allow-all.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	f := &Floor{Socket: sock, dir: dir, done: make(chan struct{}),
		srv: &http.Server{Handler: AllowAll(), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(f.done)
		if err := f.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "allow-all floor:", err)
		}
	}()
	return f, nil
}

// Close stops the floor and removes its socket.
func (f *Floor) Close() error {
	err := f.srv.Close()
	<-f.done
	os.RemoveAll(f.dir)
	return err
}

// Activate performs the legacy plugin handshake on socket, as dockerd
// does before the first call, and fails unless the plugin implements authz:
// a bench against a socket that is no authz plugin measures nothing.
func Activate(ctx context.Context, socket string) error {
	c := Client(socket, nil)
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugin.moby.localhost/Plugin.Activate", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", mediaType)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("plugin at %s: %w", socket, err)
	}
	defer resp.Body.Close()
	var m struct{ Implements []string }
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("plugin at %s: Plugin.Activate: HTTP %d", socket, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return fmt.Errorf("plugin at %s: Plugin.Activate: %w", socket, err)
	}
	for _, i := range m.Implements {
		if i == "authz" {
			return nil
		}
	}
	return fmt.Errorf("plugin at %s implements %v, not authz", socket, m.Implements)
}

// Comparison is one kind measured on the plugin and on the floor.
type Comparison struct {
	Kind        string `json:"kind"`
	Concurrency int    `json:"concurrency"`
	Plugin      Result `json:"plugin"`
	Floor       Result `json:"floor"`
	// Ratios are plugin over floor: latency percentiles (above 1 is
	// slower) and throughput (below 1 is fewer decisions per second).
	P50Ratio        float64 `json:"p50_ratio"`
	P99Ratio        float64 `json:"p99_ratio"`
	ThroughputRatio float64 `json:"throughput_ratio"`
	// Memory is the plugin process's, when its PID was given (authz bench
	// --pid): measured around the plugin's part, warm-up included.
	Memory *Memory `json:"memory,omitempty"`
}

// Errors is every failed call of both targets, warm-up included.
func (c Comparison) Errors() int {
	return c.Plugin.Errors + c.Plugin.WarmupErrors + c.Floor.Errors + c.Floor.WarmupErrors
}

// Compare measures opts on the floor, then on opts.Socket, with the
// identical schedule, concurrency and length, and their ratios. The floor
// runs first so the plugin's warm-up is not the floor's.
func Compare(ctx context.Context, kind string, floor *Floor, opts Options) (Comparison, error) {
	c := Comparison{Kind: kind, Concurrency: opts.Concurrency}
	fo := opts
	fo.Socket = floor.Socket
	var err error
	if c.Floor, err = Run(ctx, fo); err != nil {
		return c, fmt.Errorf("floor: %w", err)
	}
	plugin := func() (err error) {
		c.Plugin, err = Run(ctx, opts)
		return err
	}
	if opts.PID > 0 {
		m, err := MeasureMemory(opts.PID, plugin)
		if err != nil {
			return c, err
		}
		c.Memory = &m
	} else if err := plugin(); err != nil {
		return c, err
	}
	c.P50Ratio = ratio(c.Plugin.P50.Seconds(), c.Floor.P50.Seconds())
	c.P99Ratio = ratio(c.Plugin.P99.Seconds(), c.Floor.P99.Seconds())
	c.ThroughputRatio = ratio(c.Plugin.Throughput, c.Floor.Throughput)
	return c, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

package startreq

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/testdaemon"
)

const webID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// daemon has one container, "web", and answers inspect of anything else
// with dockerd's 404.
func daemon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/containers/web/json"):
		w.Write([]byte(`{"Id":"` + webID + `","Name":"/web","Image":"sha256:` + strings.Repeat("9", 64) + `",
			"Config":{"Image":"dhi.io/node:25","Cmd":["node","server.js"],"Healthcheck":{"Test":["CMD","curl","-f","http://localhost:3000/"]}},
			"HostConfig":{"NetworkMode":"bridge","Memory":33554432}}`))
	case strings.HasSuffix(r.URL.Path, "/containers/noconfig/json"):
		w.Write([]byte(`{"Id":"` + webID + `","Name":"/noconfig"}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"No such container: x"}`))
	}
}

func TestInspectRebuildsTheStoredCreate(t *testing.T) {
	d := &DaemonInspector{Client: testdaemon.Serve(t, daemon), Timeout: 2 * time.Second}
	c, err := d.Inspect(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != webID || c.Name != "web" || c.ImageID != "sha256:"+strings.Repeat("9", 64) {
		t.Fatalf("container = %+v", c)
	}
	cfg, host := c.Request.Config, c.Request.HostConfig
	if cfg.Image != "dhi.io/node:25" || cfg.Healthcheck == nil || cfg.Healthcheck.Test[1] != "curl" || host.Memory != 32<<20 || string(host.NetworkMode) != "bridge" {
		t.Fatalf("request = %+v / %+v", cfg, host)
	}
}

func TestInspectErrors(t *testing.T) {
	d := &DaemonInspector{Client: testdaemon.Serve(t, daemon), Timeout: 2 * time.Second}
	for _, ref := range []string{"gone", ""} {
		if _, err := d.Inspect(context.Background(), ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Inspect(%q) = %v, want ErrNotFound", ref, err)
		}
	}
	// An answer without a config is not a container dockerd can start,
	// and not one to decide as allowed either.
	if _, err := d.Inspect(context.Background(), "noconfig"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("a config-less answer: err = %v, want an error other than not-found", err)
	}

	release := make(chan struct{})
	defer close(release)
	slow := &DaemonInspector{Client: testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err := slow.Inspect(context.Background(), "web")
	if time.Since(start) > 2*time.Second || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow daemon: err %v after %v", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "did not answer within 100ms (--daemon-timeout)") {
		t.Errorf("err = %v; want the deadline and its flag named", err)
	}
}

package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/plugin"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

// catalogOnly answers image lookups from the name alone, as when the daemon
// does not answer: the benchmark measures the plugin, not a daemon.
type catalogOnly struct{}

func (catalogOnly) Inspect(_ context.Context, ref string) imagefacts.Facts {
	return imagefacts.Named(ref)
}

// allowAll is the baseline: the cheapest correct authz plugin.
func allowAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.1+json")
		w.Write([]byte(`{"Allow":true}` + "\n"))
	})
}

func serve(b *testing.B, h http.Handler) *http.Client {
	b.Helper()
	dir, err := os.MkdirTemp("", "bench")
	if err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(dir, "p.sock")
	l, err := plugin.Listen(sock)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { plugin.Serve(ctx, l, h, nil); close(done) }()
	b.Cleanup(func() { cancel(); <-done; os.RemoveAll(dir) })
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
}

func call(body any) []byte {
	raw, _ := json.Marshal(body)
	return raw
}

// BenchmarkSocket measures one AuthZReq round trip over the unix socket at
// concurrency 16, against an allow-all server, and reports p50 and p99.
func BenchmarkSocket(b *testing.B) {
	engine, err := policy.New(context.Background(), policy.Sources{Library: rego.FS, Rules: policies.FS})
	if err != nil {
		b.Fatal(err)
	}
	a := &authz.Authorizer{Engine: engine, Images: &imagefacts.Source{Inspector: catalogOnly{}}, PluginName: "hardened-authz"}
	create := func(image string) []byte {
		body, _ := json.Marshal(map[string]any{
			"Image":       image,
			"Healthcheck": map[string]any{"Test": []string{"CMD", "curl", "-f", "http://localhost:3000/health"}, "Interval": 30e9},
			"Labels":      map[string]string{"com.docker.compose.project": "p", "com.docker.compose.service": "app"},
		})
		return call(authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/create?name=p-app-1", RequestBody: body,
			RequestHeaders: map[string]string{"Content-Type": "application/json"}})
	}
	calls := map[string][]byte{
		"inspect":      call(authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/0123456789ab/json"}),
		"create-allow": create("dhi.io/curl:8-debian13-dev"),
		"create-deny":  create("dhi.io/node:25"),
	}
	servers := map[string]http.Handler{"allow-all": allowAll(), "hardened-authz": plugin.NewHandler(a, nil)}
	for _, server := range []string{"allow-all", "hardened-authz"} {
		client := serve(b, servers[server])
		for _, name := range []string{"inspect", "create-allow", "create-deny"} {
			body := calls[name]
			b.Run(server+"/"+name, func(b *testing.B) {
				var (
					mu        sync.Mutex
					latencies []time.Duration
				)
				b.SetParallelism(8) // 16 goroutines on 2 cores
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					var mine []time.Duration
					for pb.Next() {
						t0 := time.Now()
						resp, err := client.Post("http://plugin/AuthZPlugin.AuthZReq", "application/json", bytes.NewReader(body))
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					latencies = append(latencies, mine...)
					mu.Unlock()
				})
				if len(latencies) > 0 {
					slices.Sort(latencies)
					b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
				}
			})
		}
	}
}

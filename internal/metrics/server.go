package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hardened-authz/hardened-authz/internal/httpserve"
)

// Handler serves /metrics from the registry, /healthz (200 while the
// process serves HTTP at all) and /readyz (200 when ready returns nil,
// else 503 with its reason: the policies are loaded and the plugin socket
// listens).
func (m *Metrics) Handler(ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry: m.reg, // counts its own scrape errors
		// A scrape must never wait on a stuck collector for long.
		Timeout:             10 * time.Second,
		MaxRequestsInFlight: 4,
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ready != nil {
			if err := ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = fmt.Fprintln(w, "not ready:", err)
				return
			}
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
	return mux
}

// Listen opens the metrics address (host:port), so that a port in use is
// an error at start-up, before the plugin serves.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	return l, nil
}

// Serve serves h on l until ctx is done, then closes it. It returns nil
// once stopped by ctx.
func Serve(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	err := httpserve.Run(ctx, l, h, log, httpserve.Options{ReadTimeout: 10 * time.Second, Shutdown: 5 * time.Second})
	if ctx.Err() == nil || (err != nil && !httpserve.ErrShutdownTimeout(err)) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

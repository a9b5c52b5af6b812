// Command testapp is the stand-in application of the end-to-end suite: it plays
// the hardened Node.js app of the compose seed. It is built statically
// (CGO_ENABLED=0) and imported as the only file of a shell-less image, so the
// suite can prove that a healthcheck probing it from a sidecar works while a
// healthcheck run inside its own image cannot.
//
// It listens on $PORT (default 3000) on all interfaces, answers 200 "ok" on
// every path, and exits 0 on SIGTERM or SIGINT so `docker stop` is quick.
package main

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	srv := &http.Server{
		Addr: net.JoinHostPort("", port),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}

	// As PID 1 in a container the process gets no default signal handling
	// from the kernel, so SIGTERM must be handled explicitly or `docker stop`
	// waits its full grace period and then kills.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("testapp listening on %s", srv.Addr)

	select {
	case err := <-errc:
		log.Fatalf("testapp: %v", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("testapp: shutdown: %v", err)
	}
	log.Print("testapp stopped")
}

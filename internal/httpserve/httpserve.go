// Package httpserve runs an HTTP server on a listener for as long as a
// context lasts, with the deadlines every server of the plugin needs: the
// plugin socket and the metrics address alike face clients that may be
// slow or stuck, and neither may hold the process past its shutdown.
package httpserve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Options are a server's deadlines. ReadTimeout bounds reading a whole
// request (the plugin reads create bodies; metrics reads none); Shutdown
// bounds how long in-flight requests may finish once ctx is done.
type Options struct {
	ReadTimeout time.Duration
	Shutdown    time.Duration
}

// Run serves h on l until ctx is done or the server fails, then stops
// accepting and lets in-flight requests finish within o.Shutdown. It
// returns the server's error, or the shutdown's, or nil.
func Run(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger, o Options) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.Shutdown)
	defer cancel()
	return srv.Shutdown(sctx)
}

// ErrShutdownTimeout reports whether err is a shutdown that ran out of
// time with requests still in flight.
func ErrShutdownTimeout(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/httpserve"
)

// DefaultSocket is where dockerd looks for a legacy plugin named
// hardened-authz.
const DefaultSocket = "/run/docker/plugins/hardened-authz.sock"

// ShutdownTimeout bounds how long a stopping server waits for in-flight
// calls.
const ShutdownTimeout = 10 * time.Second

// Listen opens the unix socket at path, creating its directory. A stale
// socket left by a crashed run is replaced; a live one is an error, since
// two plugins on one socket would split dockerd's calls between them.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket: remove it or choose another --socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another process is serving %s: stop it or choose another --socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, nil
}

// Serve answers plugin calls on l until ctx is done, then stops accepting,
// lets in-flight calls finish (up to ShutdownTimeout) and removes the
// socket, unless it came from systemd (Inherited).
func Serve(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The http.Server removes the socket file when it closes a unix
	// listener; removing it again below covers listeners that do not.
	path := l.Addr().String()
	err := httpserve.Run(ctx, l, h, log, httpserve.Options{ReadTimeout: 30 * time.Second, Shutdown: ShutdownTimeout})
	if ctx.Err() == nil {
		return fmt.Errorf("serve %s: %w", path, err)
	}
	if rerr := removeSocket(l, path); rerr != nil {
		log.Warn("could not remove socket", "socket", path, "error", rerr)
	}
	if err != nil {
		return fmt.Errorf("stop serving %s: %w", path, err)
	}
	return nil
}

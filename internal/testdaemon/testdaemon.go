// Package testdaemon serves canned Engine API answers on a unix socket for
// unit tests of the plugin's daemon calls: what a daemon answers, how it
// fails, and a daemon that never answers. The end-to-end suite runs a real
// dockerd; this is for the cases a real one cannot be made to produce.
package testdaemon

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/client"
)

// Serve answers every request with h on a new unix socket, like dockerd's
// API socket, until the test ends, and returns a client for it. The client
// speaks API 1.41, the version of the dockerd the end-to-end suite runs.
func Serve(t testing.TB, h http.HandlerFunc) *client.Client {
	t.Helper()
	// Not t.TempDir(): its paths can exceed the 108-byte socket path limit.
	dir, err := os.MkdirTemp("", "daemon")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := client.New(client.WithHost("unix://"+sock), client.WithAPIVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

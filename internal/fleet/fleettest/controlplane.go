package fleettest

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// ControlPlane is what a fleet's control plane serves, for tests: GET
// /bundles/NAME.tar.gz answers the bundle set last (with an ETag, 503
// while none is set), POST /logs takes decision-log batches (gzipped or
// not), POST /status takes status reports. It is an http.Handler.
type ControlPlane struct {
	mu      sync.Mutex
	bundle  []byte
	log     Received
	statusR []map[string]any
}

// Received is what the collector has been sent.
type Received struct {
	// Events are the decisions of every batch, in order; Bodies each
	// batch as sent, decompressed.
	Events []map[string]any
	Bodies [][]byte
	// Gzipped is true when a batch came gzipped.
	Gzipped bool
	// Status are the status reports.
	Status []map[string]any
}

// SetBundle makes b the bundle served from now on (nil: none, 503).
func (c *ControlPlane) SetBundle(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bundle = b
}

// Received returns a copy of what the collector has been sent so far.
func (c *ControlPlane) Received() Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Received{
		Events:  append([]map[string]any(nil), c.log.Events...),
		Bodies:  append([][]byte(nil), c.log.Bodies...),
		Gzipped: c.log.Gzipped,
		Status:  append([]map[string]any(nil), c.statusR...),
	}
}

// ServeHTTP answers the bundle, logs and status calls.
func (c *ControlPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/bundles/") && strings.HasSuffix(r.URL.Path, ".tar.gz"):
		if c.bundle == nil {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		etag := fmt.Sprintf(`"%x"`, sha256.Sum256(c.bundle))
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(c.bundle)
	case r.Method == http.MethodPost && r.URL.Path == "/logs":
		body := io.Reader(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
			c.log.Gzipped = true
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var batch []map[string]any
		if err := json.Unmarshal(raw, &batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.log.Bodies = append(c.log.Bodies, raw)
		c.log.Events = append(c.log.Events, batch...)
	case r.Method == http.MethodPost && r.URL.Path == "/status":
		var st map[string]any
		if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.statusR = append(c.statusR, st)
	default:
		http.NotFound(w, r)
	}
}

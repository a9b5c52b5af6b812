package imagefacts

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/imageindex"
	"github.com/hardened-authz/hardened-authz/internal/testdaemon"
)

const nodeID = "sha256:0000000000000000000000000000000000000000000000000000000000000001"

// nodeDaemon has dhi.io/node:25 and nothing else.
func nodeDaemon(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/images/dhi.io/node:25/json") {
		http.Error(w, `{"message":"No such image"}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"Id":"` + nodeID + `","Config":{"Env":["PATH=/usr/bin"]}}`))
}

// indexer answers Lookup with ix or err, after waiting for release (nil:
// at once) or the caller's deadline, and records the IDs asked for.
type indexer struct {
	ix      *imageindex.Index
	err     error
	release chan struct{}
	asked   []string
}

func (x *indexer) Lookup(ctx context.Context, id string) (*imageindex.Index, error) {
	x.asked = append(x.asked, id)
	if x.release != nil {
		select {
		case <-x.release:
		case <-ctx.Done():
			return nil, errors.New("image index unavailable: still being scanned")
		}
	}
	return x.ix, x.err
}

func TestSourceWithoutADaemonAnswersFromTheName(t *testing.T) {
	for _, s := range []*Source{nil, {}} {
		img := s.Image(context.Background(), "dhi.io/node:25")
		if img.Source != SourceCatalog || img.Repository != "dhi.io/node" || img.Index != nil || img.IndexErr != "" {
			t.Fatalf("Image = %+v", img)
		}
		if f := s.Inspect(context.Background(), "dhi.io/node:25"); f.Repository != "dhi.io/node" || f.Found {
			t.Fatalf("Inspect = %+v", f)
		}
	}
}

func TestSourceAddsTheIndexOfImagesTheDaemonHas(t *testing.T) {
	ix := imageindex.FromEntries(map[string]imageindex.Entry{"/usr/bin/node": {Type: imageindex.TypeRegular, Mode: 0o755}})
	x := &indexer{ix: ix}
	s := NewSource(testdaemon.Serve(t, nodeDaemon), x, ToolDeadlines)
	img := s.Image(context.Background(), "dhi.io/node:25")
	if !img.Found || img.ID != nodeID || img.Index != ix || img.IndexErr != "" {
		t.Fatalf("Image = %+v", img)
	}
	// An image the daemon lacks is never scanned: there is nothing to export.
	missing := s.Image(context.Background(), "dhi.io/nope:1")
	if missing.Found || missing.Index != nil || !strings.Contains(missing.Err, "No such image") {
		t.Fatalf("missing = %+v", missing)
	}
	if len(x.asked) != 1 || x.asked[0] != nodeID {
		t.Fatalf("indexer asked for %v, want only %s", x.asked, nodeID)
	}
}

func TestSourceIndexErrorsSayWhy(t *testing.T) {
	c := testdaemon.Serve(t, nodeDaemon)
	failed := NewSource(c, &indexer{err: errors.New("image index unavailable: the scan failed")}, ToolDeadlines)
	if img := failed.Image(context.Background(), "dhi.io/node:25"); img.Index != nil || img.IndexErr != "image index unavailable: the scan failed" {
		t.Fatalf("failed scan: %+v", img)
	}

	slow := NewSource(c, &indexer{release: make(chan struct{})}, Deadlines{Daemon: time.Second, Scan: 50 * time.Millisecond})
	start := time.Now()
	img := slow.Image(context.Background(), "dhi.io/node:25")
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Image took %v with a 50ms scan deadline", elapsed)
	}
	if !img.Found || img.Index != nil || !strings.Contains(img.IndexErr, "--scan-timeout 50ms") {
		t.Fatalf("slow scan: %+v; want the error to name --scan-timeout and its value", img)
	}
}

func TestDeadlinesValidateNamesTheFlag(t *testing.T) {
	if err := PluginDeadlines.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := ToolDeadlines.Validate(); err != nil {
		t.Fatal(err)
	}
	err := Deadlines{Daemon: 0, Scan: -time.Second}.Validate()
	if err == nil || !strings.Contains(err.Error(), "--daemon-timeout 0s") || !strings.Contains(err.Error(), "--scan-timeout -1s") {
		t.Fatalf("err = %v; want both flags named with their values", err)
	}
}

package imagescan

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hardened-authz/hardened-authz/internal/imageindex"
	"github.com/hardened-authz/hardened-authz/internal/testdaemon"
)

var (
	idA = "sha256:" + strings.Repeat("a", 64)
	idB = "sha256:" + strings.Repeat("b", 64)
)

// export is a legacy `docker save` stream of one layer holding a shell-less
// image with curl in /usr/bin.
func export(t testing.TB) []byte {
	t.Helper()
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	for _, h := range []*tar.Header{
		{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/curl", Typeflag: tar.TypeReg, Mode: 0o755, Size: 4},
		{Name: "bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"},
	} {
		lw.WriteHeader(h)
		if h.Size > 0 {
			lw.Write([]byte("\x7fELF"))
		}
	}
	lw.Close()
	var out bytes.Buffer
	w := tar.NewWriter(&out)
	add := func(name string, body []byte) {
		w.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		w.Write(body)
	}
	add("l1/layer.tar", layer.Bytes())
	add("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["acme/api:1"],"Layers":["l1/layer.tar"]}]`))
	w.Close()
	return out.Bytes()
}

// daemon serves image exports and lists on a unix socket, counting exports.
type daemon struct {
	exports atomic.Int64
	fail    atomic.Bool
	hold    chan struct{} // when set, exports wait for it
	body    []byte
}

func (d *daemon) start(t testing.TB) *client.Client {
	t.Helper()
	return testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/images/json"):
			w.Write([]byte(`[{"Id":"` + idA + `"},{"Id":"` + idB + `"}]`))
		case strings.HasSuffix(r.URL.Path, "/images/get"):
			d.exports.Add(1)
			if d.hold != nil {
				<-d.hold
			}
			if d.fail.Load() {
				http.Error(w, `{"message":"export failed"}`, 500)
				return
			}
			w.Write(d.body)
		default:
			http.NotFound(w, r)
		}
	})
}

func TestLookupScansOnceAndAnswers(t *testing.T) {
	d := &daemon{body: export(t)}
	s := New(d.start(t), t.TempDir(), nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix, err := s.Lookup(context.Background(), idA)
			if err != nil {
				t.Error(err)
				return
			}
			if p, ok := ix.LookPath("curl", []string{"/bin"}); !ok || p != "/bin/curl" {
				t.Errorf("LookPath(curl) = %q %v", p, ok)
			}
			if _, ok := ix.LookPath("/bin/sh", nil); ok {
				t.Error("the image has no /bin/sh")
			}
		}()
	}
	wg.Wait()
	if n := d.exports.Load(); n != 1 {
		t.Errorf("%d exports for 8 concurrent lookups of one image, want 1", n)
	}
	if scans, failures := s.Stats(); scans != 1 || failures != 0 {
		t.Errorf("stats = %d scans %d failures", scans, failures)
	}
}

func TestDiskCacheSurvivesARestart(t *testing.T) {
	d := &daemon{body: export(t)}
	c, state := d.start(t), t.TempDir()
	if _, err := New(c, state, nil).Lookup(context.Background(), idA); err != nil {
		t.Fatal(err)
	}
	restarted := New(c, state, nil)
	ix, err := restarted.Lookup(context.Background(), idA)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.LookPath("curl", []string{"/usr/bin"}); !ok {
		t.Error("the cached index lost curl")
	}
	if n := d.exports.Load(); n != 1 {
		t.Errorf("%d exports across a restart, want 1", n)
	}
	// A corrupt cache file is ignored and the image is scanned again.
	files, _ := filepath.Glob(filepath.Join(state, "images", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	os.WriteFile(files[0], []byte("{not json"), 0o600)
	if _, err := New(c, state, nil).Lookup(context.Background(), idA); err != nil || d.exports.Load() != 2 {
		t.Errorf("after a corrupt cache file: %v, %d exports", err, d.exports.Load())
	}
}

func TestFailuresFallBackAndAreNotRetriedAtOnce(t *testing.T) {
	d := &daemon{body: export(t)}
	d.fail.Store(true)
	s := New(d.start(t), "", nil)
	if _, err := s.Lookup(context.Background(), idA); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("failed export: %v", err)
	}
	if _, err := s.Lookup(context.Background(), idA); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "failed less than") {
		t.Fatalf("second lookup: %v", err)
	}
	if _, failures := s.Stats(); failures != 1 || d.exports.Load() != 1 {
		t.Errorf("failures %d exports %d, want 1 and 1", failures, d.exports.Load())
	}
	d.body = []byte("this is not a tar")
	d.fail.Store(false)
	if _, err := s.Lookup(context.Background(), idB); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("corrupt export: %v", err)
	}
	if _, err := s.Lookup(context.Background(), "../../etc/passwd"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a path as image ID: %v", err)
	}
}

func TestLookupStopsWaitingAtItsDeadline(t *testing.T) {
	d := &daemon{body: export(t), hold: make(chan struct{})}
	s := New(d.start(t), "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Lookup(ctx, idA); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "still being scanned") {
		t.Fatalf("lookup during a slow scan: %v", err)
	}
	close(d.hold) // the scan goes on in the background and is kept
	if _, err := s.Lookup(context.Background(), idA); err != nil {
		t.Fatal(err)
	}
	if n := d.exports.Load(); n != 1 {
		t.Errorf("%d exports, want 1", n)
	}
}

func TestWarmAll(t *testing.T) {
	d := &daemon{body: export(t)}
	s := New(d.start(t), "", nil)
	s.WarmAll(context.Background())
	if n := d.exports.Load(); n != 2 {
		t.Fatalf("%d exports after warming 2 images", n)
	}
	s.WarmAll(context.Background())
	if n := d.exports.Load(); n != 2 {
		t.Fatalf("warming again exported %d times in all, want 2", n)
	}
}

// BenchmarkCachedLookup is what the index adds to a decision once an image
// is cached: the lookup and a PATH search.
func BenchmarkCachedLookup(b *testing.B) {
	d := &daemon{body: export(b)}
	s := New(d.start(b), "", nil)
	ctx := context.Background()
	if _, err := s.Lookup(ctx, idA); err != nil {
		b.Fatal(err)
	}
	path := []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
	b.ReportAllocs()
	for b.Loop() {
		ix, err := s.Lookup(ctx, idA)
		if err != nil {
			b.Fatal(err)
		}
		ix.LookPath("curl", path)
		ix.LookPath("/bin/sh", path)
	}
}

// FuzzDiskIndex feeds arbitrary cache files to a scanner: a damaged state
// directory must never crash the plugin, only cost a new scan.
func FuzzDiskIndex(f *testing.F) {
	f.Add([]byte(`{"version":1,"id":"` + idA + `","entries":{"/bin":{"Type":2,"Mode":511,"Link":"usr/bin"},"/usr/bin/sh":{"Type":1,"Mode":493}}}`))
	f.Add([]byte(`{"version":1,"id":"` + idA + `","entries":{"../../x":{"Type":2,"Link":"/"},"":{"Type":200}}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		state := t.TempDir()
		s := New(nil, state, nil)
		os.MkdirAll(filepath.Join(state, "images"), 0o700)
		os.WriteFile(s.file(idA), raw, 0o600)
		entries, err := s.readDisk(idA)
		if err != nil {
			return
		}
		ix := imageindex.FromEntries(entries)
		ix.LookPath("sh", []string{"/bin", "/usr/bin"})
		ix.LookPath("/bin/sh", nil)
		ix.Resolve("/bin/sh")
	})
}

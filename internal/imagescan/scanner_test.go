package imagescan

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	idC = "sha256:" + strings.Repeat("c", 64)
	idD = "sha256:" + strings.Repeat("d", 64)
)

// export is a legacy `docker save` stream of one layer holding a shell-less
// image with curl in /usr/bin, with the config that names its diff ID.
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
	sum := sha256.Sum256(layer.Bytes())
	config := `{"rootfs":{"type":"layers","diff_ids":["sha256:` + hex.EncodeToString(sum[:]) + `"]}}`
	var out bytes.Buffer
	w := tar.NewWriter(&out)
	add := func(name string, body []byte) {
		w.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		w.Write(body)
	}
	add("l1/layer.tar", layer.Bytes())
	add("c.json", []byte(config))
	add("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["acme/api:1"],"Layers":["l1/layer.tar"]}]`))
	w.Close()
	return out.Bytes()
}

// daemon serves image exports, lists, inspects and event streams on a unix
// socket, counting exports by image.
type daemon struct {
	fail atomic.Bool
	// listFailures is how many image lists fail before one answers.
	listFailures atomic.Int64
	hold         chan struct{} // when set, exports wait for it
	body         []byte
	// events, when set, serves the n-th events call (from 0).
	events func(n int, w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	exported []string
	queries  []string // of the events calls
}

func (d *daemon) start(t testing.TB) *client.Client {
	t.Helper()
	return testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/images/json"):
			if d.listFailures.Add(-1) >= 0 {
				http.Error(w, `{"message":"starting"}`, 500)
				return
			}
			w.Write([]byte(`[{"Id":"` + idA + `"},{"Id":"` + idB + `"}]`))
		case strings.HasSuffix(r.URL.Path, "/images/get"):
			d.mu.Lock()
			d.exported = append(d.exported, r.URL.Query().Get("names"))
			d.mu.Unlock()
			if d.hold != nil {
				<-d.hold
			}
			if d.fail.Load() {
				http.Error(w, `{"message":"export failed"}`, 500)
				return
			}
			w.Write(d.body)
		case strings.Contains(r.URL.Path, "/images/sha256:") && strings.HasSuffix(r.URL.Path, "/json"):
			// Image inspect by ID: the layers of the export it serves.
			ix, err := imageindex.Build(bytes.NewReader(d.body), imageindex.Options{})
			if err != nil {
				http.Error(w, `{"message":"no such image"}`, 404)
				return
			}
			layers, _ := json.Marshal(ix.DiffIDs())
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"Id":"` + strings.TrimSuffix(r.URL.Path[strings.Index(r.URL.Path, "sha256:"):], "/json") + `","RootFS":{"Type":"layers","Layers":` + string(layers) + `}}`))
		case strings.HasSuffix(r.URL.Path, "/images/acme/api:1/json"):
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"Id":"` + idD + `"}`))
		case strings.HasSuffix(r.URL.Path, "/events") && d.events != nil:
			d.mu.Lock()
			n := len(d.queries)
			d.queries = append(d.queries, r.URL.RawQuery)
			d.mu.Unlock()
			d.events(n, w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

func (d *daemon) exports() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.exported...)
}

// logBuffer collects a scanner's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

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
	if n := len(d.exports()); n != 1 {
		t.Errorf("%d exports for 8 concurrent lookups of one image, want 1", n)
	}
	if st := s.Stats(); st.Scans != 1 || st.Failures != 0 || st.Cached != 1 || st.Pending != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFailuresBackOffAndSayWhy(t *testing.T) {
	d := &daemon{body: export(t)}
	d.fail.Store(true)
	s := New(d.start(t), "", nil)
	s.retryMin, s.retryMax = 200*time.Millisecond, 400*time.Millisecond

	_, err := s.Lookup(context.Background(), idA)
	var se *ScanError
	if !errors.As(err, &se) || !errors.Is(err, ErrScanFailed) || !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrPending) {
		t.Fatalf("failed export: %v", err)
	}
	if se.ID != idA || se.Failures != 1 || !strings.Contains(se.Err.Error(), "export failed") || time.Until(se.RetryAt) > 200*time.Millisecond {
		t.Errorf("scan error = %+v", se)
	}
	if !strings.Contains(err.Error(), "image "+idA+" could not be indexed: export: ") || !strings.Contains(err.Error(), "1 failed scans in a row; next try in") {
		t.Errorf("message: %v", err)
	}
	// Within the backoff, the failure answers at once, without an export.
	if _, err := s.Lookup(context.Background(), idA); !errors.As(err, &se) || se.Failures != 1 {
		t.Fatalf("second lookup: %v", err)
	}
	if n := len(d.exports()); n != 1 {
		t.Fatalf("%d exports within the backoff, want 1", n)
	}
	// Past it, the image is exported again, and the next wait is longer.
	time.Sleep(250 * time.Millisecond)
	before := time.Now()
	if _, err := s.Lookup(context.Background(), idA); !errors.As(err, &se) || se.Failures != 2 || se.RetryAt.Sub(before) < 300*time.Millisecond {
		t.Fatalf("third lookup: %v (%+v)", err, se)
	}
	if st := s.Stats(); st.Failures != 2 || st.Failed != 1 || len(d.exports()) != 2 {
		t.Errorf("stats %+v, exports %d", st, len(d.exports()))
	}
	// The daemon recovers: the next scan after the backoff succeeds and
	// the failure is forgotten.
	d.fail.Store(false)
	time.Sleep(450 * time.Millisecond)
	if _, err := s.Lookup(context.Background(), idA); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Failed != 0 || st.Scans != 1 {
		t.Errorf("after recovery: %+v", st)
	}

	// An export that is not a tar fails with the indexer's reason.
	d.body = []byte("this is not a tar")
	if _, err := s.Lookup(context.Background(), idB); !errors.As(err, &se) || !strings.Contains(se.Err.Error(), "index the export: ") {
		t.Fatalf("corrupt export: %v", err)
	}
	// A path is not an image ID, and is never tried.
	_, err = s.Lookup(context.Background(), "../../etc/passwd")
	if !errors.As(err, &se) || !se.RetryAt.IsZero() || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not an image ID") {
		t.Fatalf("a path as image ID: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	s := New(nil, "", nil)
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	for i, w := range want {
		if got := s.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := s.backoff(1000); got != retryMax {
		t.Errorf("backoff(1000) = %s, want the cap %s", got, retryMax)
	}
}

// The failures remembered are bounded; the one due soonest goes first.
func TestFailuresAreBounded(t *testing.T) {
	d := &daemon{body: export(t)}
	d.fail.Store(true)
	s := New(d.start(t), "", nil)
	far := time.Now().Add(time.Hour)
	for i := range maxFailed {
		s.failed[fmt.Sprintf("sha256:%064x", i)] = &failure{err: errors.New("x"), count: 1, retryAt: far.Add(time.Duration(i) * time.Second)}
	}
	soonest := fmt.Sprintf("sha256:%064x", 0)
	s.Lookup(context.Background(), idA)
	s.mu.Lock()
	n, _, gone := len(s.failed), s.failed[idA], s.failed[soonest] == nil
	s.mu.Unlock()
	if n != maxFailed || !gone {
		t.Errorf("%d failures kept (want %d), soonest forgotten: %v", n, maxFailed, gone)
	}
}

func TestLookupStopsWaitingAtItsDeadline(t *testing.T) {
	d := &daemon{body: export(t), hold: make(chan struct{})}
	s := New(d.start(t), "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Lookup(ctx, idA)
	var pe *PendingError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPending) || !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrScanFailed) {
		t.Fatalf("lookup during a slow scan: %v", err)
	}
	if pe.ID != idA || pe.Queued || !strings.Contains(err.Error(), "is being indexed (for ") || !strings.Contains(err.Error(), "retry in a few seconds") {
		t.Errorf("pending error: %v (%+v)", err, pe)
	}
	// Two scans hold both slots: a third image waits, queued.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	s.Warm(idB)
	waitFor(t, func() bool { return len(d.exports()) == 2 })
	if _, err := s.Lookup(ctx2, idC); !errors.As(err, &pe) || !pe.Queued || !strings.Contains(err.Error(), "queued for indexing") {
		t.Fatalf("lookup while every slot is busy: %v", err)
	}
	if st := s.Stats(); st.Pending != 3 {
		t.Errorf("pending = %d, want 3", st.Pending)
	}
	close(d.hold) // the scans go on in the background and are kept
	for _, id := range []string{idA, idB, idC} {
		if _, err := s.Lookup(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(d.exports()); n != 3 {
		t.Errorf("%d exports, want 3", n)
	}
}

func TestWarmAll(t *testing.T) {
	d := &daemon{body: export(t)}
	d.listFailures.Store(2) // the daemon is not up yet: the list is asked for again
	var logs logBuffer
	s := New(d.start(t), "", logs.logger())
	s.reconnectMin = 10 * time.Millisecond
	s.WarmAll(context.Background())
	if n := len(d.exports()); n != 2 {
		t.Fatalf("%d exports after warming 2 images", n)
	}
	if strings.Count(logs.String(), "cannot list local images") != 1 {
		t.Errorf("want one warning for two failed lists:\n%s", logs.String())
	}
	s.WarmAll(context.Background())
	if n := len(d.exports()); n != 2 {
		t.Fatalf("warming again exported %d times in all, want 2", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
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

// Decisions' lookups count as cache hits or misses, and every export is
// reported to the scan observer with its duration and outcome.
func TestCacheCountsAndScanObserver(t *testing.T) {
	d := &daemon{body: export(t)}
	s := New(d.start(t), "", nil)
	var mu sync.Mutex
	var observed []error
	s.ObserveScans(func(dur time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if dur <= 0 {
			t.Errorf("scan duration %v", dur)
		}
		observed = append(observed, err)
	})
	for range 3 {
		if _, err := s.Lookup(context.Background(), idA); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.CacheMisses != 1 || st.CacheHits != 2 {
		t.Errorf("hits %d misses %d, want 2 and 1", st.CacheHits, st.CacheMisses)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(observed) != 1 || observed[0] != nil {
		t.Errorf("observed scans: %v", observed)
	}
}

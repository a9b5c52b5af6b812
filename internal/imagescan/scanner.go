// Package imagescan is the daemon-facing cache of image indexes: where
// internal/imageindex builds an index from an export stream without any
// daemon, imagescan asks the daemon for that export, once per image
// however many callers wait, in the background, and keeps the result; and
// where internal/imagefacts answers a caller's question about an image, it
// asks imagescan (as its Indexer) for the files. Indexes are cached by image
// ID, which is content-addressed, so an entry never goes stale: in memory,
// and on disk so a restart does not scan again.
package imagescan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"

	"github.com/hardened-authz/hardened-authz/internal/atomicfile"
	"github.com/hardened-authz/hardened-authz/internal/imageindex"
)

// DefaultStateDir is where indexes are kept across restarts.
const DefaultStateDir = "/var/lib/hardened-authz"

const (
	// scanDeadline bounds one export and index build; a decision never
	// waits this long (see Lookup), only the background scan does.
	scanDeadline = 5 * time.Minute
	// retryAfter keeps a failing image from being exported on every create.
	retryAfter = time.Minute
	// maxCached bounds the indexes kept in memory; the disk keeps the rest.
	maxCached = 512
	// cacheVersion changes when the on-disk format does.
	cacheVersion = 1
)

var imageID = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ErrUnavailable means there is no index yet: the scan failed recently or
// the caller stopped waiting for it.
var ErrUnavailable = errors.New("image index unavailable")

// Scanner builds and caches image indexes. Its methods are safe for
// concurrent use; one image is scanned once however many callers ask.
type Scanner struct {
	client   *client.Client
	stateDir string
	log      *slog.Logger

	mu       sync.Mutex
	cached   map[string]*imageindex.Index
	inflight map[string]chan struct{}
	failed   map[string]time.Time

	scans    atomic.Int64
	failures atomic.Int64
}

// New returns a scanner that exports images from c and keeps indexes under
// stateDir ("" keeps them in memory only).
func New(c *client.Client, stateDir string, log *slog.Logger) *Scanner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scanner{
		client:   c,
		stateDir: stateDir,
		log:      log,
		cached:   map[string]*imageindex.Index{},
		inflight: map[string]chan struct{}{},
		failed:   map[string]time.Time{},
	}
}

// Stats reports how many scans ran and how many failed, for logs and
// metrics.
func (s *Scanner) Stats() (scans, failures int64) { return s.scans.Load(), s.failures.Load() }

// Lookup returns the index of image id, starting a scan if there is none,
// and waits for it until ctx is done. The scan goes on in the background
// when the caller stops waiting, so the next decision finds it cached.
func (s *Scanner) Lookup(ctx context.Context, id string) (*imageindex.Index, error) {
	if !imageID.MatchString(id) {
		return nil, fmt.Errorf("%w: %q is not an image ID", ErrUnavailable, id)
	}
	ix, done := s.start(id)
	if ix != nil {
		return ix, nil
	}
	if done == nil {
		return nil, fmt.Errorf("%w: the last scan of %s failed less than %s ago", ErrUnavailable, id, retryAfter)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s is still being scanned", ErrUnavailable, id)
	}
	s.mu.Lock()
	ix = s.cached[id]
	s.mu.Unlock()
	if ix == nil {
		return nil, fmt.Errorf("%w: the scan of %s failed", ErrUnavailable, id)
	}
	return ix, nil
}

// Warm scans image id in the background unless it is cached.
func (s *Scanner) Warm(id string) {
	if imageID.MatchString(id) {
		s.start(id)
	}
}

// WarmAll scans every local image, one at a time, so that the first create
// of each finds its index ready. It returns when all are done or ctx is.
func (s *Scanner) WarmAll(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	res, err := s.client.ImageList(lctx, client.ImageListOptions{})
	cancel()
	if err != nil {
		s.log.Warn("image scan: cannot list local images to warm the cache", "error", err.Error())
		return
	}
	for _, img := range res.Items {
		ix, done := s.start(img.ID)
		if ix != nil || done == nil {
			continue
		}
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
	}
}

// start returns the cached index, or the channel of the scan that will
// produce it (starting one if needed), or neither when the image failed to
// scan recently.
func (s *Scanner) start(id string) (*imageindex.Index, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix := s.cached[id]; ix != nil {
		return ix, nil
	}
	if done := s.inflight[id]; done != nil {
		return nil, done
	}
	if t, ok := s.failed[id]; ok && time.Since(t) < retryAfter {
		return nil, nil
	}
	done := make(chan struct{})
	s.inflight[id] = done
	go s.scan(id, done)
	return nil, done
}

func (s *Scanner) scan(id string, done chan struct{}) {
	// Counted and logged before done closes, so a waiter that wakes up
	// sees the outcome in Stats.
	ix, fromDisk, err := s.load(id)
	if err != nil {
		n := s.failures.Add(1)
		s.log.Warn("image scan failed; decisions use image inspect and the catalog", "image", id, "error", err.Error(), "failures_total", n)
	} else if !fromDisk {
		s.scans.Add(1)
	}
	s.mu.Lock()
	delete(s.inflight, id)
	if err != nil {
		s.failed[id] = time.Now()
	} else {
		delete(s.failed, id)
		if len(s.cached) >= maxCached {
			for k := range s.cached { // evict any one: the disk still has it
				delete(s.cached, k)
				break
			}
		}
		s.cached[id] = ix
	}
	s.mu.Unlock()
	close(done)
}

// load reads the index from disk or builds it from the daemon's export.
func (s *Scanner) load(id string) (ix *imageindex.Index, fromDisk bool, err error) {
	if entries, err := s.readDisk(id); err == nil {
		return imageindex.FromEntries(entries), true, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("image scan: ignoring unreadable cache file", "image", id, "error", err.Error())
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), scanDeadline)
	defer cancel()
	export, err := s.client.ImageSave(ctx, []string{id})
	if err != nil {
		return nil, false, fmt.Errorf("export: %w", err)
	}
	defer export.Close()
	full, err := imageindex.Build(export, imageindex.Options{})
	if err != nil {
		return nil, false, fmt.Errorf("index the export: %w", err)
	}
	entries := full.ExecEntries()
	if err := s.writeDisk(id, entries); err != nil {
		s.log.Warn("image scan: cannot keep the index on disk", "image", id, "error", err.Error())
	}
	s.log.Info("image scanned", "image", id, "paths", full.Len(), "kept", len(entries), "duration", time.Since(start))
	return imageindex.FromEntries(entries), false, nil
}

type diskIndex struct {
	Version int                         `json:"version"`
	ID      string                      `json:"id"`
	Entries map[string]imageindex.Entry `json:"entries"`
}

func (s *Scanner) file(id string) string {
	return filepath.Join(s.stateDir, "images", "sha256-"+id[len("sha256:"):]+".json")
}

func (s *Scanner) readDisk(id string) (map[string]imageindex.Entry, error) {
	if s.stateDir == "" {
		return nil, os.ErrNotExist
	}
	raw, err := os.ReadFile(s.file(id))
	if err != nil {
		return nil, err
	}
	var d diskIndex
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	if d.Version != cacheVersion || d.ID != id {
		return nil, fmt.Errorf("cache file is version %d of %q", d.Version, d.ID)
	}
	return d.Entries, nil
}

// writeDisk writes atomically: a reader never sees half a file, and the
// cache is private to the plugin (0600).
func (s *Scanner) writeDisk(id string, entries map[string]imageindex.Entry) error {
	if s.stateDir == "" {
		return nil
	}
	dir := filepath.Join(s.stateDir, "images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	raw, err := json.Marshal(diskIndex{Version: cacheVersion, ID: id, Entries: entries})
	if err != nil {
		return err
	}
	return atomicfile.Write(s.file(id), raw, 0o600)
}

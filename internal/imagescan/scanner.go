// Package imagescan is the daemon-facing cache of image indexes: where
// internal/imageindex builds an index from an export stream without any
// daemon, imagescan asks the daemon for that export, once per image
// however many callers wait, in the background, and keeps the result; and
// where internal/imagefacts answers a caller's question about an image, it
// asks imagescan (as its Indexer) for the files. Indexes are cached by image
// ID, which is content-addressed, so an entry never goes stale: in memory,
// and on disk so a restart does not scan again.
//
// A lookup that finds no index says why, so that a decision can tell its
// user what to do: ErrPending (the image is being indexed: retry in a few
// seconds) or ErrScanFailed (it could not be indexed, and why, and when it
// is tried again). Both are ErrUnavailable.
package imagescan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"

	"github.com/hardened-authz/hardened-authz/internal/imageindex"
)

// DefaultStateDir is where indexes are kept across restarts.
const DefaultStateDir = "/var/lib/hardened-authz"

const (
	// scanDeadline bounds one export and index build; a decision never
	// waits this long (see Lookup), only the background scan does.
	scanDeadline = 5 * time.Minute
	// listDeadline bounds the image list WarmAll starts from, and
	// listRetryMax the wait before asking for it again.
	listDeadline = 30 * time.Second
	listRetryMax = 30 * time.Second
	// retryMin and retryMax bound the wait before a failed image is
	// exported again: doubling from a few seconds, so a daemon that
	// hiccuped costs one retry, up to minutes, so an image that always
	// fails is not exported on every create.
	retryMin = 2 * time.Second
	retryMax = 5 * time.Minute
	// maxCached and maxCachedBytes bound the indexes kept in memory, by
	// count and by their estimated bytes (imageindex's SizeEstimate); the
	// least recently used go first, and the disk keeps them. One index
	// larger than maxCachedBytes is still kept, alone: a lookup answers
	// from the whole index or not at all, never from part of one.
	maxCached      = 512
	maxCachedBytes = 32 << 20
	// freeAfterPaths: a scan that kept more paths than this hands the
	// memory it used back to the OS at once (debug.FreeOSMemory), so a
	// huge image leaves the plugin's resident size at what it keeps.
	freeAfterPaths = 50_000
	// maxFailed bounds the failures remembered for the backoff; when full,
	// the one due soonest is forgotten, which only brings its retry closer.
	maxFailed = 4096
	// maxScans bounds the exports read at once: an export is a stream of
	// the image's every layer, and a burst of new images must not take
	// the daemon's and the plugin's CPU from the decisions.
	maxScans = 2
)

var imageID = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ErrUnavailable means there is no index: the image is being indexed
// (ErrPending) or could not be (ErrScanFailed).
var ErrUnavailable = errors.New("image index unavailable")

// ErrPending means the image is being indexed, or waits for a free scan:
// a lookup a few seconds later will likely find the index. The error is a
// *PendingError.
var ErrPending = errors.New("image is being indexed")

// ErrScanFailed means the image could not be indexed; the error is a
// *ScanError, which says why and when the scan is tried again.
var ErrScanFailed = errors.New("image could not be indexed")

// PendingError is what Lookup returns when the caller stopped waiting for
// a scan that has not finished.
type PendingError struct {
	ID string
	// Queued is true while the scan waits for a free slot (maxScans),
	// behind other images, and has not asked the daemon for anything yet.
	Queued bool
	// Since is when the scan was asked for.
	Since time.Time
}

func (e *PendingError) Error() string {
	state := "being indexed"
	if e.Queued {
		state = "queued for indexing behind other images"
	}
	return fmt.Sprintf("%v: image %s is %s (for %s); retry in a few seconds",
		ErrUnavailable, e.ID, state, time.Since(e.Since).Round(100*time.Millisecond))
}

// Is makes errors.Is(err, ErrPending) and errors.Is(err, ErrUnavailable)
// true.
func (e *PendingError) Is(target error) bool { return target == ErrPending || target == ErrUnavailable }

// ScanError is what Lookup returns when the image's last scan failed.
type ScanError struct {
	ID string
	// Err is why: the export failed, or its content could not be indexed.
	Err error
	// Failures counts the scans of the image that failed in a row.
	Failures int
	// RetryAt is when a lookup or a warm may scan the image again; zero
	// when it never will (the ID is not an image ID).
	RetryAt time.Time
}

func (e *ScanError) Error() string {
	retry := "it is not tried again"
	if !e.RetryAt.IsZero() {
		retry = fmt.Sprintf("next try in %s", max(time.Until(e.RetryAt), 0).Round(time.Second))
	}
	return fmt.Sprintf("%v: image %s could not be indexed: %v (%d failed scans in a row; %s)",
		ErrUnavailable, e.ID, e.Err, e.Failures, retry)
}

// Is makes errors.Is(err, ErrScanFailed) and errors.Is(err,
// ErrUnavailable) true.
func (e *ScanError) Is(target error) bool { return target == ErrScanFailed || target == ErrUnavailable }

// Unwrap returns the reason, so its own sentinels (context deadlines,
// imageindex.ErrTooManyEntries) can be tested too.
func (e *ScanError) Unwrap() error { return e.Err }

// Stats counts what the scanner did and holds, for logs and metrics.
type Stats struct {
	// Scans counts exports indexed; Failures counts scans that failed.
	Scans, Failures int64
	// DiskHits counts indexes read from the state directory;
	// DiskRejected counts state files refused (then scanned again).
	DiskHits, DiskRejected int64
	// EventsSeen counts daemon events that named an image to index;
	// EventsDropped counts those dropped from a full backlog.
	EventsSeen, EventsDropped int64
	// CacheHits counts decisions' lookups answered from memory at once;
	// CacheMisses those that had to wait for a scan, or got none.
	CacheHits, CacheMisses int64
	// Pending is the images being scanned or queued now; Failed those
	// whose last scan failed; Cached the indexes in memory, and
	// CachedBytes their estimated size.
	Pending, Failed, Cached, CachedBytes int
}

// Scanner builds and caches image indexes. Its methods are safe for
// concurrent use; one image is scanned once however many callers ask.
type Scanner struct {
	client   *client.Client
	stateDir string
	log      *slog.Logger
	slots    chan struct{}
	// The package's timings, shortened in tests.
	retryMin, retryMax time.Duration
	connectTimeout     time.Duration
	reconnectMin       time.Duration
	streamLifetime     time.Duration
	maxBytes           int

	mu       sync.Mutex
	cached   map[string]*cachedIndex
	cachedB  int    // the SizeEstimate of the cached indexes together
	useClock uint64 // orders uses for the LRU
	inflight map[string]*scan
	failed   map[string]*failure

	scans, failures        atomic.Int64
	diskHits, diskRejected atomic.Int64
	eventsSeen, dropped    atomic.Int64
	cacheHits, cacheMisses atomic.Int64
	// onScan, when set, is told how long each export took and how it
	// ended (ObserveScans).
	onScan atomic.Pointer[func(time.Duration, error)]
	// watcher, when set, follows the event stream (WatchImages).
	watcher atomic.Pointer[ImageWatcher]
}

// ObserveScans has f told of every scan that exported its image (not
// those the state directory answered): how long it took from its start,
// the wait for an export slot included, and its error. f runs on the
// scan's goroutine and must be quick.
func (s *Scanner) ObserveScans(f func(d time.Duration, err error)) { s.onScan.Store(&f) }

// cachedIndex is one index kept in memory.
type cachedIndex struct {
	ix      *imageindex.Index
	bytes   int
	lastUse uint64
}

// get returns the cached index of id and marks it used, s.mu held.
func (s *Scanner) get(id string) *imageindex.Index {
	c := s.cached[id]
	if c == nil {
		return nil
	}
	s.useClock++
	c.lastUse = s.useClock
	return c.ix
}

// put caches ix for id, s.mu held, evicting the least recently used
// indexes until the bounds hold again (never ix itself).
func (s *Scanner) put(id string, ix *imageindex.Index) {
	if old := s.cached[id]; old != nil {
		s.cachedB -= old.bytes
	}
	s.useClock++
	c := &cachedIndex{ix: ix, bytes: ix.SizeEstimate(), lastUse: s.useClock}
	s.cached[id] = c
	s.cachedB += c.bytes
	for len(s.cached) > 1 && (len(s.cached) > maxCached || s.cachedB > s.maxBytes) {
		var lru string
		var at uint64
		for k, o := range s.cached {
			if k != id && (lru == "" || o.lastUse < at) {
				lru, at = k, o.lastUse
			}
		}
		s.cachedB -= s.cached[lru].bytes
		delete(s.cached, lru)
	}
}

// scan is one image's scan in flight.
type scan struct {
	done      chan struct{} // closed when the outcome is recorded
	since     time.Time
	exporting atomic.Bool // past the queue for a slot
}

// failure is what is remembered of an image whose last scan failed.
type failure struct {
	err     error
	count   int
	retryAt time.Time
}

// New returns a scanner that exports images from c and keeps indexes under
// stateDir ("" keeps them in memory only).
func New(c *client.Client, stateDir string, log *slog.Logger) *Scanner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scanner{
		client:         c,
		stateDir:       stateDir,
		log:            log,
		slots:          make(chan struct{}, maxScans),
		retryMin:       retryMin,
		retryMax:       retryMax,
		connectTimeout: connectTimeout,
		reconnectMin:   reconnectMin,
		streamLifetime: streamLifetime,
		maxBytes:       maxCachedBytes,
		cached:         map[string]*cachedIndex{},
		inflight:       map[string]*scan{},
		failed:         map[string]*failure{},
	}
}

// Stats reports what the scanner did and holds.
func (s *Scanner) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Scans:         s.scans.Load(),
		Failures:      s.failures.Load(),
		DiskHits:      s.diskHits.Load(),
		DiskRejected:  s.diskRejected.Load(),
		EventsSeen:    s.eventsSeen.Load(),
		EventsDropped: s.dropped.Load(),
		CacheHits:     s.cacheHits.Load(),
		CacheMisses:   s.cacheMisses.Load(),
		Pending:       len(s.inflight),
		Failed:        len(s.failed),
		Cached:        len(s.cached),
		CachedBytes:   s.cachedB,
	}
}

// Lookup returns the index of image id, starting a scan if there is none
// and no failed scan is waiting out its backoff, and waits for it until
// ctx is done. The scan goes on in the background when the caller stops
// waiting, so the next decision finds it cached. Every error is
// ErrUnavailable, and either a *PendingError or a *ScanError.
func (s *Scanner) Lookup(ctx context.Context, id string) (*imageindex.Index, error) {
	if !imageID.MatchString(id) {
		return nil, &ScanError{ID: fmt.Sprintf("%q", id), Err: errors.New("not an image ID"), Failures: 1}
	}
	for try := range 2 { // a second time only if the index was evicted at once
		ix, sc, err := s.start(id)
		if try == 0 {
			if ix != nil {
				s.cacheHits.Add(1)
			} else {
				s.cacheMisses.Add(1)
			}
		}
		if ix != nil || err != nil {
			return ix, err
		}
		select {
		case <-sc.done:
		case <-ctx.Done():
			return nil, &PendingError{ID: id, Queued: !sc.exporting.Load(), Since: sc.since}
		}
		s.mu.Lock()
		ix, f := s.get(id), s.failed[id]
		var serr *ScanError
		if f != nil {
			serr = f.scanError(id)
		}
		s.mu.Unlock()
		switch {
		case ix != nil:
			return ix, nil
		case serr != nil:
			return nil, serr
		}
	}
	return nil, &PendingError{ID: id, Since: time.Now()}
}

// scanError reports f, s.mu held.
func (f *failure) scanError(id string) *ScanError {
	return &ScanError{ID: id, Err: f.err, Failures: f.count, RetryAt: f.retryAt}
}

// Warm scans image id in the background unless it is cached, being
// scanned, or waiting out the backoff of a failed scan.
func (s *Scanner) Warm(id string) {
	if imageID.MatchString(id) {
		s.start(id)
	}
}

// warmWait scans image id and waits for the outcome or ctx: background
// warming goes one image at a time, so it never holds more than one slot.
func (s *Scanner) warmWait(ctx context.Context, id string) {
	if !imageID.MatchString(id) {
		return
	}
	if _, sc, _ := s.start(id); sc != nil {
		select {
		case <-sc.done:
		case <-ctx.Done():
		}
	}
}

// WarmAll scans every local image, one at a time, so that the first create
// of each finds its index ready. It returns when all are done or ctx is.
// The plugin starts before dockerd (dockerd refuses to start without its
// authorization plugins), so the list is asked for again, with a backoff,
// until the daemon answers.
func (s *Scanner) WarmAll(ctx context.Context) {
	var images []string
	delay := s.reconnectMin
	for attempt := 1; ; attempt++ {
		lctx, cancel := context.WithTimeout(ctx, listDeadline)
		res, err := s.client.ImageList(lctx, client.ImageListOptions{})
		cancel()
		if err == nil {
			for _, img := range res.Items {
				images = append(images, img.ID)
			}
			break
		}
		if ctx.Err() != nil {
			return
		}
		if attempt == 1 || attempt%10 == 0 {
			s.log.Warn("image scan: cannot list local images to warm the cache yet; asking again until the daemon answers",
				"error", err.Error(), "attempts", attempt)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(delay*2, listRetryMax)
	}
	for _, id := range images {
		if ctx.Err() != nil {
			return
		}
		s.warmWait(ctx, id)
	}
}

// start returns the cached index, or the scan that will produce it
// (starting one if needed), or the failure whose backoff has not passed.
func (s *Scanner) start(id string) (*imageindex.Index, *scan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix := s.get(id); ix != nil {
		return ix, nil, nil
	}
	if sc := s.inflight[id]; sc != nil {
		return nil, sc, nil
	}
	if f := s.failed[id]; f != nil && time.Now().Before(f.retryAt) {
		return nil, nil, f.scanError(id)
	}
	sc := &scan{done: make(chan struct{}), since: time.Now()}
	s.inflight[id] = sc
	go s.run(id, sc)
	return nil, sc, nil
}

// run scans one image and records the outcome before done closes, so a
// waiter that wakes up finds it, and Stats counts it.
func (s *Scanner) run(id string, sc *scan) {
	began := time.Now()
	ix, err := s.load(id, sc)
	if f := s.onScan.Load(); f != nil && sc.exporting.Load() {
		(*f)(time.Since(began), err)
	}
	s.mu.Lock()
	delete(s.inflight, id)
	var failed *ScanError
	if err != nil {
		s.failures.Add(1)
		f := s.failed[id]
		if f == nil {
			s.forgetFailureIfFull()
			f = &failure{}
			s.failed[id] = f
		}
		f.err, f.count = err, f.count+1
		f.retryAt = time.Now().Add(s.backoff(f.count))
		failed = f.scanError(id)
	} else {
		delete(s.failed, id)
		s.put(id, ix)
	}
	s.mu.Unlock()
	if failed != nil {
		s.log.Warn("image scan failed", "image", id, "error", err.Error(),
			"failures", failed.Failures, "retry_in", time.Until(failed.RetryAt).Round(time.Second).String(),
			"failures_total", s.failures.Load())
	}
	close(sc.done)
}

// backoff is the wait after the n-th failure in a row.
func (s *Scanner) backoff(n int) time.Duration {
	d := s.retryMin
	for i := 1; i < n && d < s.retryMax; i++ {
		d *= 2
	}
	return min(d, s.retryMax)
}

// forgetFailureIfFull makes room in failed, s.mu held: the failure due
// soonest goes, as it is the closest to being retried anyway.
func (s *Scanner) forgetFailureIfFull() {
	if len(s.failed) < maxFailed {
		return
	}
	var oldest string
	var at time.Time
	for id, f := range s.failed {
		if oldest == "" || f.retryAt.Before(at) {
			oldest, at = id, f.retryAt
		}
	}
	delete(s.failed, oldest)
}

// load reads the index from disk or builds it from the daemon's export,
// within scanDeadline. A panic, which only a bug can cause, fails the scan
// rather than the plugin.
func (s *Scanner) load(id string, sc *scan) (ix *imageindex.Index, err error) {
	defer func() {
		if p := recover(); p != nil {
			ix, err = nil, fmt.Errorf("panic while indexing: %v", p)
		}
	}()
	if k, ok := s.readDisk(id); ok {
		s.diskHits.Add(1)
		return imageindex.FromEntries(k.entries).WithAccounts(k.accounts), nil
	}
	s.slots <- struct{}{}
	defer func() { <-s.slots }()
	sc.exporting.Store(true)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), scanDeadline)
	defer cancel()
	export, err := s.client.ImageSave(ctx, []string{id})
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer export.Close()
	full, err := imageindex.Build(export, imageindex.Options{VerifyDiffIDs: true})
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (the scan's deadline, %s, passed)", err, scanDeadline)
		}
		return nil, fmt.Errorf("index the export: %w", err)
	}
	entries := full.ExecEntries()
	diffIDs, paths := full.DiffIDs(), full.Len()
	s.scans.Add(1)
	accounts := full.Accounts()
	if err := s.writeDisk(id, diffIDs, kept{entries: entries, accounts: accounts}); err != nil {
		s.log.Warn("image scan: index not kept on disk; it is kept in memory", "image", id, "error", err.Error())
	}
	keptIx := imageindex.FromEntries(entries).WithAccounts(accounts)
	s.log.Info("image scanned", "image", id, "layers", len(diffIDs), "paths", paths, "kept", len(entries),
		"kept_bytes", keptIx.SizeEstimate(), "duration", time.Since(start))
	if len(entries) > freeAfterPaths {
		// The whole tree, the entries and the JSON are garbage now.
		debug.FreeOSMemory()
	}
	return keptIx, nil
}

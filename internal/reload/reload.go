// Package reload applies policy edits to a running plugin: it watches the
// --policy directories (and any extra file, such as the exceptions file)
// and reloads on SIGHUP, and hands each change to a validate-then-swap
// function. What to validate and swap is the caller's: this package only
// decides when, and keeps the serving set when a change is rejected.
package reload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults of Config's timings.
const (
	// DefaultDebounce coalesces an editor's save (write, rename, chmod)
	// or a checkout touching many files into one reload.
	DefaultDebounce = 250 * time.Millisecond
	// DefaultMaxDelay bounds how long a steady stream of events can
	// postpone a reload.
	DefaultMaxDelay = 2 * time.Second
	// DefaultTimeout bounds one Apply (read, compile, run the tests).
	DefaultTimeout = time.Minute
	// retryWatch is how soon a watch that could not be added (a
	// directory missing in the middle of a swap) is tried again, doubling
	// up to maxRetryWatch while it stays missing.
	retryWatch    = time.Second
	maxRetryWatch = 30 * time.Second
)

// ApplyFunc validates the files as they are now and, if they pass,
// swaps them in. It returns the revision serving afterwards and whether
// it differs from the one before (false for an edit that changed no
// byte). On error the running set must stay.
type ApplyFunc func(ctx context.Context) (revision string, changed bool, err error)

// Config says what to watch and what to do on a change.
type Config struct {
	// Dirs are the --policy directories, watched with every
	// subdirectory, including ones created later. A directory replaced
	// as a whole (removed and created again, or a symlink to it swapped)
	// is watched again.
	Dirs []string
	// Files are single files to watch as well (the exceptions file). The
	// directory holding each is watched, so that a file replaced by a
	// rename, as editors and ConfigMap updates do, is still seen.
	Files []string
	// Watch turns the file watching on; off, only Signals and Trigger
	// reload.
	Watch bool
	// Signals reloads on every value received (SIGHUP).
	Signals <-chan os.Signal
	// Apply validates and swaps. Required.
	Apply ApplyFunc

	Debounce time.Duration // DefaultDebounce if zero
	MaxDelay time.Duration // DefaultMaxDelay if zero
	Timeout  time.Duration // DefaultTimeout if zero

	Log *slog.Logger
	// OnReloaded is called with the new revision after a change was
	// swapped in (decision logs, the reload metric).
	OnReloaded func(revision string)
	// OnRejected is called when a change was rejected or could not be
	// applied in time; the old set keeps serving.
	OnRejected func(err error)
}

// Watcher runs Config's reloads. Create it with New, then Run it.
//
// Run is the only goroutine that touches the watch state after New, so it
// needs no lock.
type Watcher struct {
	cfg     Config
	fsw     *fsnotify.Watcher // nil without Config.Watch
	trigger chan string

	// filters maps each watched directory to the names in it that
	// matter, nil for all: the parent of a --policy directory or of a
	// watched file only matters for that one entry.
	filters map[string]map[string]bool
	// watched are the directories added to fsw, to remove the ones that
	// are gone.
	watched map[string]bool
	// incomplete says the last sync could not add every watch.
	incomplete bool
}

// New checks cfg and starts watching. Close the watcher's resources by
// cancelling Run's context.
func New(cfg Config) (*Watcher, error) {
	if cfg.Apply == nil {
		return nil, errors.New("reload: Config.Apply is nil")
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.MaxDelay < cfg.Debounce {
		cfg.MaxDelay = max(DefaultMaxDelay, cfg.Debounce)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{cfg: cfg, trigger: make(chan string, 1), watched: map[string]bool{}}
	if cfg.Watch && len(cfg.Dirs)+len(cfg.Files) > 0 {
		fsw, err := fsnotify.NewWatcher()
		if err != nil {
			return nil, fmt.Errorf("watch the policy files: %w", err)
		}
		w.fsw = fsw
		if err := w.sync(); err != nil {
			// Not fatal: a directory may appear later, and the parent's
			// watch or the retry picks it up.
			cfg.Log.Warn("policy watch incomplete", "error", err.Error())
		}
	}
	return w, nil
}

// Trigger asks for a reload, as SIGHUP does; reason is logged. It never
// blocks: triggers that arrive while one is pending are one reload.
func (w *Watcher) Trigger(reason string) {
	select {
	case w.trigger <- reason:
	default:
	}
}

// Watching lists the directories watched now, for logs and tests.
func (w *Watcher) Watching() []string {
	if w.fsw == nil {
		return nil
	}
	return w.fsw.WatchList()
}

// Run reloads on every change until ctx is done, then stops watching.
func (w *Watcher) Run(ctx context.Context) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		defer w.fsw.Close()
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	var (
		debounce = stoppedTimer()
		retry    = stoppedTimer()
		first    time.Time // first event of the pending burst
		reason   string
		pending  bool
		inflight <-chan applyResult // a reload still running past its timeout
		// retryDelay backs off the watch retries of a directory that
		// stays missing.
		retryDelay = retryWatch
	)
	if w.incomplete {
		retry.Reset(retryDelay)
	}
	schedule := func(why string) {
		now := time.Now()
		if !pending {
			pending, first, reason = true, now, why
		}
		wait := w.cfg.Debounce
		if rest := w.cfg.MaxDelay - now.Sub(first); rest < wait {
			wait = max(rest, 0)
		}
		debounce.Reset(wait)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if w.relevant(ev) {
				w.cfg.Log.Debug("policy file changed", "file", ev.Name, "op", ev.Op.String())
				schedule("file " + ev.Name)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflow lost events: read everything again.
			w.cfg.Log.Warn("policy watch error", "error", err.Error())
			schedule("watch error")
		case <-retry.C:
			// Only a watch now complete is worth a reload: a directory
			// still missing would be one rejection per retry.
			if err := w.sync(); err != nil {
				retryDelay = min(2*retryDelay, maxRetryWatch)
				retry.Reset(retryDelay)
				continue
			}
			retryDelay = retryWatch
			schedule("watch retry")
		case sig := <-w.cfg.Signals:
			pending, reason = true, "signal "+sig.String()
			debounce.Reset(0)
		case why := <-w.trigger:
			pending, reason = true, why
			debounce.Reset(0)
		case <-debounce.C:
			if !pending {
				continue
			}
			if inflight != nil {
				// The previous reload is stuck (slow disk): do not pile
				// another on it; try again once it has ended.
				debounce.Reset(w.cfg.Debounce)
				continue
			}
			pending = false
			if w.fsw != nil {
				if err := w.sync(); err != nil {
					w.cfg.Log.Warn("policy watch incomplete", "error", err.Error())
					retry.Reset(retryDelay)
				}
			}
			inflight = w.apply(ctx, reason)
		case res := <-inflight:
			// A reload that ended after its timeout was counted as
			// rejected; if it swapped a set in after all, say so, so that
			// the revision reported is the one serving.
			inflight = nil
			w.report("late: "+reason, res, 0)
		}
	}
}

type applyResult struct {
	revision string
	changed  bool
	err      error
}

// apply runs one reload within Config.Timeout. It returns the channel of
// a reload that outlived the timeout, nil otherwise.
func (w *Watcher) apply(ctx context.Context, reason string) <-chan applyResult {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	done := make(chan applyResult, 1)
	start := time.Now()
	go func() {
		defer cancel()
		rev, changed, err := w.cfg.Apply(ctx)
		done <- applyResult{rev, changed, err}
	}()
	timeout := time.NewTimer(w.cfg.Timeout + time.Second)
	defer timeout.Stop()
	select {
	case res := <-done:
		w.report(reason, res, time.Since(start))
		return nil
	case <-timeout.C:
		err := fmt.Errorf("policy reload did not finish within %s", w.cfg.Timeout)
		w.report(reason, applyResult{err: err}, time.Since(start))
		return done
	}
}

func (w *Watcher) report(reason string, res applyResult, took time.Duration) {
	log := w.cfg.Log.With("trigger", reason, "duration", took.Round(time.Millisecond).String())
	switch {
	case res.err != nil:
		log.Error("policy reload rejected, the running policy stays", "error", res.err.Error())
		if w.cfg.OnRejected != nil {
			w.cfg.OnRejected(res.err)
		}
	case res.changed:
		log.Info("policy reloaded", "revision", res.revision)
		if w.cfg.OnReloaded != nil {
			w.cfg.OnReloaded(res.revision)
		}
	default:
		log.Info("policy unchanged", "revision", res.revision)
	}
}

// relevant says whether ev can change the policy set: editors' swap and
// lock files do not, and neither do the neighbours of a watched file or
// --policy directory in its parent.
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	name := filepath.Base(ev.Name)
	if ignored(name) {
		return false
	}
	filter, ok := w.filters[filepath.Dir(ev.Name)]
	if !ok {
		// The event is about a watched directory itself (removed,
		// renamed): always worth a look.
		return true
	}
	return filter == nil || filter[name]
}

// ignored are the names editors write beside the file they edit: vim's
// swap files and its write test (4913), backups (name~), emacs locks and
// autosaves.
func ignored(name string) bool {
	for _, suffix := range []string{".swp", ".swx", ".swo", ".swn", "~"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return name == "4913" || strings.HasPrefix(name, ".#") || (strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"))
}

// sync makes the watch list what the file system needs now: each
// --policy directory and its subdirectories (those the policy loader
// reads: not hidden ones), the parents that would see them replaced, and
// the directories of the extra files. Adding an already watched path
// again follows it to a new directory if it was replaced.
func (w *Watcher) sync() error {
	filters := map[string]map[string]bool{}
	var errs []error
	want := func(dir string, name string) {
		if name == "" {
			filters[dir] = nil
			return
		}
		f, ok := filters[dir]
		if ok && f == nil {
			return // the whole directory is watched already
		}
		if f == nil {
			f = map[string]bool{}
			filters[dir] = f
		}
		f[name] = true
		// ConfigMap volumes swap a "..data" symlink to update all files
		// at once; the files are symlinks through it.
		f["..data"] = true
	}
	for _, dir := range w.cfg.Dirs {
		dir = filepath.Clean(dir)
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		if parent := filepath.Dir(dir); parent != dir {
			want(parent, filepath.Base(dir))
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			// The root may be a symlink to a directory (WalkDir does not
			// follow it, inotify does); below it, the loader skips hidden
			// directories and does not follow symlinked ones.
			if p == dir {
				want(p, "")
				return nil
			}
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				want(p, "")
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range w.cfg.Files {
		f = filepath.Clean(f)
		if abs, err := filepath.Abs(f); err == nil {
			f = abs
		}
		want(filepath.Dir(f), filepath.Base(f))
	}
	for dir := range w.watched {
		if _, ok := filters[dir]; !ok {
			_ = w.fsw.Remove(dir) // it may be gone already
			delete(w.watched, dir)
		}
	}
	for dir := range filters {
		if err := w.fsw.Add(dir); err != nil {
			errs = append(errs, fmt.Errorf("watch %s: %w", dir, err))
			delete(w.watched, dir)
			continue
		}
		w.watched[dir] = true
	}
	w.filters = filters
	w.incomplete = len(errs) > 0
	return errors.Join(errs...)
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

package reload_test

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/reload"
)

// wait bounds every wait for a reload: far above what one takes, so that
// only a reload that never comes fails.
const wait = 10 * time.Second

const debounce = 50 * time.Millisecond

const mainModule = `package hardened.main

deny contains v if some v in data.hardened.rules[_].deny

warn contains v if some v in data.hardened.rules[_].warn

decision := {"deny": deny, "warn": warn}
`

// rule is a rule family that denies with message msg.
func rule(msg string) string {
	return `package hardened.rules.acme

deny contains {"rule": "ACME001", "severity": "error", "title": "t", "message": "` + msg + `", "fix": {"summary": "s"}} if true
`
}

// fixture is an engine serving a small library with the rules of dir, and
// a watcher reloading it, running until the test ends. Reloads and
// rejections arrive on the channels.
type fixture struct {
	engine   *policy.Engine
	src      policy.Sources
	w        *reload.Watcher
	reloaded chan string
	rejected chan error
	applies  atomic.Int32
}

func start(t *testing.T, cfg reload.Config, dirs ...string) *fixture {
	t.Helper()
	f := &fixture{
		src:      policy.Sources{Library: fstest.MapFS{"main.rego": {Data: []byte(mainModule)}}, Overrides: dirs},
		reloaded: make(chan string, 100),
		rejected: make(chan error, 100),
	}
	v, err := policy.Validate(context.Background(), f.src)
	if err != nil {
		t.Fatal(err)
	}
	f.engine = policy.NewValidated(v)
	cfg.Dirs = dirs
	if cfg.Debounce == 0 {
		cfg.Debounce = debounce
	}
	if cfg.Apply == nil {
		cfg.Apply = func(ctx context.Context) (string, bool, error) {
			f.applies.Add(1)
			if rev, err := policy.SourceRevision(f.src); err == nil && rev == f.engine.Revision() {
				return rev, false, nil
			}
			v, err := f.engine.Reload(ctx, f.src)
			if err != nil {
				return "", false, err
			}
			return v.Revision(), true, nil
		}
	}
	cfg.OnReloaded = func(rev string) { f.reloaded <- rev }
	cfg.OnRejected = func(err error) { f.rejected <- err }
	w, err := reload.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// message is what the engine serving now denies with.
func (f *fixture) message(t *testing.T) string {
	t.Helper()
	r, err := f.engine.Evaluate(context.Background(), ast.NewObject())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Deny) != 1 {
		return ""
	}
	return r.Deny[0].Message
}

// next waits for the next reload and returns its revision.
func (f *fixture) next(t *testing.T) string {
	t.Helper()
	select {
	case rev := <-f.reloaded:
		return rev
	case err := <-f.rejected:
		t.Fatalf("rejected: %v", err)
	case <-time.After(wait):
		t.Fatal("no reload")
	}
	return ""
}

// nextRejection waits for the next rejected reload.
func (f *fixture) nextRejection(t *testing.T) error {
	t.Helper()
	select {
	case rev := <-f.reloaded:
		t.Fatalf("reloaded %s, want a rejection", rev)
	case err := <-f.rejected:
		return err
	case <-time.After(wait):
		t.Fatal("no rejection")
	}
	return nil
}

// quiet asserts that nothing is reloaded or rejected for a while.
func (f *fixture) quiet(t *testing.T) {
	t.Helper()
	select {
	case rev := <-f.reloaded:
		t.Fatalf("unexpected reload %s", rev)
	case err := <-f.rejected:
		t.Fatalf("unexpected rejection %v", err)
	case <-time.After(10 * debounce):
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// An edit is served after one reload; a broken edit is rejected with its
// file and line and the old set keeps serving; the next good edit is
// taken.
func TestEditBrokenEditAndFix(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "acme", "acme.rego")
	write(t, file, rule("one"))
	f := start(t, reload.Config{Watch: true}, dir)
	first := f.engine.Revision()

	write(t, file, rule("two"))
	if rev := f.next(t); rev == first || rev != f.engine.Revision() || f.message(t) != "two" {
		t.Fatalf("after an edit: revision %s (was %s), serving %q", rev, first, f.message(t))
	}
	good := f.engine.Revision()

	write(t, file, "package hardened.rules.acme\n\ndeny contains x if {\n")
	err := f.nextRejection(t)
	if !strings.Contains(err.Error(), file+":4:") {
		t.Errorf("rejection does not name %s:4: %v", file, err)
	}
	if f.engine.Revision() != good || f.message(t) != "two" {
		t.Errorf("a rejected edit changed what serves: %s %q", f.engine.Revision(), f.message(t))
	}

	write(t, file, rule("three"))
	if f.next(t); f.message(t) != "three" {
		t.Errorf("after the fix: serving %q", f.message(t))
	}
}

// A burst of writes, as a checkout or an editor's save makes, is one
// reload; editors' swap files do not reload at all.
func TestBurstIsOneReload(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "acme", "acme.rego"), rule("zero"))
	f := start(t, reload.Config{Watch: true, Debounce: 250 * time.Millisecond}, dir)
	for i := range 10 {
		write(t, filepath.Join(dir, "acme", "acme.rego"), rule(strings.Repeat("x", i+1)))
		time.Sleep(10 * time.Millisecond)
	}
	f.next(t)
	f.quiet(t)
	if n := f.applies.Load(); n != 1 {
		t.Errorf("%d reloads for one burst, want 1", n)
	}
	if got := f.message(t); got != strings.Repeat("x", 10) {
		t.Errorf("serving %q, want the last write", got)
	}

	for _, name := range []string{".acme.rego.swp", ".acme.rego.swx", "4913", "acme.rego~", ".#acme.rego"} {
		write(t, filepath.Join(dir, "acme", name), "junk")
	}
	f.quiet(t)
	if n := f.applies.Load(); n != 1 {
		t.Errorf("swap files caused %d reloads", n-1)
	}
}

// A subdirectory created after the start is watched: a file added in it
// reloads, and so does a later edit of that file.
func TestNewSubdirectoryIsWatched(t *testing.T) {
	dir := t.TempDir()
	f := start(t, reload.Config{Watch: true}, dir)
	file := filepath.Join(dir, "new", "deeper", "acme.rego")
	write(t, file, rule("new"))
	f.next(t)
	if f.message(t) != "new" {
		t.Fatalf("serving %q", f.message(t))
	}
	write(t, file, rule("edited"))
	f.next(t)
	if f.message(t) != "edited" {
		t.Fatalf("after editing the new file: serving %q", f.message(t))
	}
}

// The --policy directory replaced as a whole keeps reloading: a symlink
// to a release directory swapped atomically, a ConfigMap volume's
// "..data" swap, a directory removed and created again.
func TestReplacedDirectoryKeepsWorking(t *testing.T) {
	t.Run("symlink swap", func(t *testing.T) {
		root := t.TempDir()
		write(t, filepath.Join(root, "v1", "acme.rego"), rule("v1"))
		write(t, filepath.Join(root, "v2", "acme.rego"), rule("v2"))
		link := filepath.Join(root, "current")
		if err := os.Symlink("v1", link); err != nil {
			t.Fatal(err)
		}
		f := start(t, reload.Config{Watch: true}, link)
		swap(t, link, "v2")
		if f.next(t); f.message(t) != "v2" {
			t.Fatalf("after the swap: serving %q", f.message(t))
		}
		write(t, filepath.Join(root, "v2", "acme.rego"), rule("v2 edited"))
		if f.next(t); f.message(t) != "v2 edited" {
			t.Fatalf("after editing the new target: serving %q", f.message(t))
		}
	})
	t.Run("configmap", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "..2026_01", "acme.rego"), rule("v1"))
		if err := os.Symlink("..2026_01", filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", "acme.rego"), filepath.Join(dir, "acme.rego")); err != nil {
			t.Fatal(err)
		}
		f := start(t, reload.Config{Watch: true}, dir)
		if f.message(t) != "v1" {
			t.Fatalf("serving %q", f.message(t))
		}
		write(t, filepath.Join(dir, "..2026_02", "acme.rego"), rule("v2"))
		swap(t, filepath.Join(dir, "..data"), "..2026_02")
		if err := os.RemoveAll(filepath.Join(dir, "..2026_01")); err != nil {
			t.Fatal(err)
		}
		if f.next(t); f.message(t) != "v2" {
			t.Fatalf("after the ..data swap: serving %q", f.message(t))
		}
	})
	t.Run("removed and created again", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "policy")
		write(t, filepath.Join(dir, "acme.rego"), rule("v1"))
		f := start(t, reload.Config{Watch: true}, dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "acme.rego"), rule("v2"))
		deadline := time.After(wait)
		for f.message(t) != "v2" {
			select {
			case <-f.reloaded:
			case <-f.rejected: // the directory was missing for a moment
			case <-deadline:
				t.Fatalf("serving %q, want v2", f.message(t))
			}
		}
		write(t, filepath.Join(dir, "acme.rego"), rule("v3"))
		for f.message(t) != "v3" {
			select {
			case <-f.reloaded:
			case <-f.rejected:
			case <-deadline:
				t.Fatalf("serving %q after editing the new directory, want v3", f.message(t))
			}
		}
	})
}

// swap points the symlink link at target atomically, as `ln -sfn` with a
// rename does.
func swap(t *testing.T, link, target string) {
	t.Helper()
	tmp := link + ".tmp"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// An extra file (the exceptions file) is watched through its directory,
// so an editor's rename-over save is seen; its neighbours are not.
func TestExtraFileIsWatched(t *testing.T) {
	policyDir := t.TempDir()
	other := t.TempDir()
	exceptions := filepath.Join(other, "exceptions.yaml")
	write(t, exceptions, "a")
	f := start(t, reload.Config{Watch: true, Files: []string{exceptions}, Apply: func(context.Context) (string, bool, error) {
		return "", true, nil
	}}, policyDir)
	write(t, exceptions+".new", "b")
	f.quiet(t)
	if err := os.Rename(exceptions+".new", exceptions); err != nil {
		t.Fatal(err)
	}
	f.next(t)
}

// SIGHUP reloads, also without watching files.
func TestSIGHUPReloads(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "acme.rego")
	write(t, file, rule("one"))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	f := start(t, reload.Config{Watch: false, Signals: hup}, dir)
	write(t, file, rule("two"))
	f.quiet(t) // not watching
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if f.next(t); f.message(t) != "two" {
		t.Fatalf("after SIGHUP: serving %q", f.message(t))
	}
	// SIGHUP without a change reloads nothing.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	f.quiet(t)
	if n := f.applies.Load(); n != 2 {
		t.Errorf("%d validations for two SIGHUPs", n)
	}
}

// A reload that does not finish in time is rejected, and the watcher
// goes on: the next trigger is served once the stuck one has ended.
func TestStuckReloadIsBounded(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	f := start(t, reload.Config{Timeout: 100 * time.Millisecond, Apply: func(ctx context.Context) (string, bool, error) {
		if calls.Add(1) == 1 {
			<-release // ignores ctx, as a read of a hung file system would
			return "late", true, nil
		}
		return "next", true, nil
	}}, t.TempDir())
	f.w.Trigger("test")
	err := f.nextRejection(t)
	if !strings.Contains(err.Error(), "did not finish within 100ms") {
		t.Errorf("rejection: %v", err)
	}
	f.w.Trigger("again")
	f.quiet(t) // the stuck one still runs
	close(release)
	// The stuck reload swapped its set in after all: reported, so that
	// the revision shown is the one serving; then the pending trigger.
	if rev := f.next(t); rev != "late" {
		t.Errorf("reloaded %q, want the late reload reported", rev)
	}
	if rev := f.next(t); rev != "next" {
		t.Errorf("reloaded %q", rev)
	}
}

func TestNewNeedsApply(t *testing.T) {
	if _, err := reload.New(reload.Config{}); err == nil {
		t.Fatal("a watcher without Apply was created")
	}
}

// Package decisionlog writes one JSON line per decision the policies made,
// shaped like an Open Policy Agent decision log entry: an ID, a time, the
// query path, the input the policies evaluated (masked) and the result,
// plus what the plugin adds (rules, warnings, latency, policy revision).
//
// Each line is written before the decision is returned to dockerd, in one
// write of a whole line, so a crash never loses a decision that was
// answered, and a line is never interleaved with another. A sink that
// fails (a full disk, a removed file, a closed pipe) never fails the
// decision: the line is counted as dropped, the failure is logged at most
// every failureLogEvery, and the file is opened again on a later
// decision.
package decisionlog

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// MaxLineBytes bounds one line, newline included. dockerd reads a
// plugin's output in lines of at most 64 KiB, and so do many log
// shippers; the margin keeps a line whole whoever reads it.
const MaxLineBytes = 60 << 10

// QueryPath is the decision's policy path, as OPA writes `path`: the query
// data.hardened.main.decision, slash-separated.
const QueryPath = "hardened/main/decision"

// Stdout is the path that selects standard output.
const Stdout = "-"

// Timings of failure handling.
const (
	// retryEvery is how long after a failed write the file is opened
	// again; lines meanwhile are dropped (and counted).
	retryEvery = time.Second
	// checkEvery is how often the path is compared with the open file, so
	// that a file moved or removed (rotation without SIGUSR1, rm) is
	// opened again within a second.
	checkEvery = time.Second
	// failureLogEvery rate-limits the plugin's own warning about a sink
	// that keeps failing.
	failureLogEvery = 30 * time.Second
)

// Options configure a Logger.
type Options struct {
	// Masks are the --mask patterns, applied to the logged input on top of
	// the built-in masks.
	Masks []Mask
	// Labels are written as the entry's "labels" (OPA's labels: which
	// instance decided), such as the plugin name and version.
	Labels map[string]string
	// Revision, when set, names the policy revision a decision was made
	// under, from the record's policy generation.
	Revision func(generation uint64) string
	// Bundles, when set, names the OPA bundles (name to manifest revision)
	// of the policy set of a decision's generation, written as OPA's
	// decision logs write them (appendBundles).
	Bundles func(generation uint64) map[string]string
	// Log receives the logger's own failures (rate-limited).
	Log *slog.Logger
	// now is the clock, replaced in tests.
	now func() time.Time
}

// Logger writes decision lines. Its methods are safe for concurrent use.
type Logger struct {
	opts   Options
	path   string // "" for a writer given to New: never reopened
	labels []byte // the rendered labels object

	mu       sync.Mutex
	w        io.Writer // nil while the sink is broken
	f        *os.File  // the open file, when path names one
	partial  bool      // a failed write may have left part of a line
	retryAt  time.Time // when a broken sink is opened again
	checkAt  time.Time // when the path is compared with f again
	failing  bool      // since the first failure, until a write succeeds
	loggedAt time.Time

	written, dropped atomic.Int64
	bufs             sync.Pool // *[]byte, for lines
	encoders         sync.Pool // *encoder, with its input buffer
	// inputs remembers encoded inputs by value, for decisions the policy
	// set's cache answered with an input it has seen (inputMemo).
	inputs inputMemo
}

// Open returns a Logger appending to the file at path (created with mode
// 0600: the lines describe every container created), or writing to
// standard output when path is Stdout.
func Open(path string, opts Options) (*Logger, error) {
	l := newLogger(opts)
	l.path = path
	if path == Stdout {
		w, err := stdout()
		if err != nil {
			return nil, fmt.Errorf("decision log: %w", err)
		}
		l.w = w
		return l, nil
	}
	f, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("decision log: %w", err)
	}
	l.f, l.w = f, f
	l.checkAt = l.opts.now().Add(checkEvery)
	return l, nil
}

// New returns a Logger writing to w, which it never reopens.
func New(w io.Writer, opts Options) *Logger {
	l := newLogger(opts)
	l.w = w
	return l
}

func newLogger(opts Options) *Logger {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	l := &Logger{opts: opts}
	l.labels = appendLabels(nil, opts.Labels)
	l.bufs.New = func() any { b := make([]byte, 0, 8<<10); return &b }
	l.encoders.New = func() any { return &encoder{masks: opts.Masks, buf: make([]byte, 0, 8<<10)} }
	return l
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// Path is the file the logger appends to, Stdout, or "" for a writer.
func (l *Logger) Path() string { return l.path }

// Stats are the lines written and the lines dropped because the sink
// failed, since start.
func (l *Logger) Stats() (written, dropped int64) { return l.written.Load(), l.dropped.Load() }

// Dropped counts the lines lost to a failing sink, for the metrics.
func (l *Logger) Dropped() int64 { return l.dropped.Load() }

// Observe writes rec's line, unless no policy saw the request (a
// fast-path allow). It implements authz.Observer.
func (l *Logger) Observe(_ context.Context, rec authz.Record) {
	if rec.FastPath() {
		return
	}
	bp := l.bufs.Get().(*[]byte)
	line := l.appendLine((*bp)[:0], &rec, l.opts.now())
	l.write(line)
	if cap(line) <= 256<<10 { // keep the pool's buffers small
		*bp = line
		l.bufs.Put(bp)
	}
}

// Reopen closes the file and opens the path again: logrotate's postrotate
// sends SIGUSR1 after moving the file away. On failure the old file is
// kept, so nothing is lost, and the next decisions try again.
func (l *Logger) Reopen() error {
	if l.path == "" || l.path == Stdout {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reopenLocked()
}

func (l *Logger) reopenLocked() error {
	f, err := openFile(l.path)
	if err != nil {
		return fmt.Errorf("decision log: reopen: %w", err)
	}
	if l.f != nil {
		_ = l.f.Close()
	}
	l.f, l.w = f, f
	// A half-written line stays in the file it was written to: only a new,
	// empty file needs no newline to end it.
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		l.partial = false
	}
	l.checkAt = l.opts.now().Add(checkEvery)
	return nil
}

// Close closes the file. Lines after Close are dropped.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.w.(io.Closer); ok && l.path == Stdout {
		_ = c.Close() // the duplicate, not standard output itself
	}
	l.w = nil
	l.retryAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// write writes one line, whole, or counts it dropped.
func (l *Logger) write(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.now()
	if l.path != "" && l.path != Stdout {
		l.checkFileLocked(now)
	}
	if l.w == nil {
		l.dropLocked(now, errors.New("the sink failed and is not open again yet"))
		return
	}
	if l.partial {
		// Ends the line a failed write left unfinished, so this one
		// parses.
		if _, err := l.w.Write([]byte{'\n'}); err != nil {
			l.failLocked(now, err)
			return
		}
		l.partial = false
	}
	n, err := l.w.Write(line)
	if err != nil {
		l.partial = n > 0
		l.failLocked(now, err)
		return
	}
	l.written.Add(1)
	if l.failing {
		l.failing = false
		l.opts.Log.Info("decision log: writing again", "path", l.path, "dropped_total", l.dropped.Load())
	}
}

// checkFileLocked opens the file again when it is broken and its retry is
// due, or when the path no longer names the open file (moved or removed).
func (l *Logger) checkFileLocked(now time.Time) {
	if l.f == nil {
		if now.Before(l.retryAt) {
			return
		}
		if err := l.reopenLocked(); err != nil {
			l.retryAt = now.Add(retryEvery)
		}
		return
	}
	if now.Before(l.checkAt) {
		return
	}
	l.checkAt = now.Add(checkEvery)
	st, err := os.Stat(l.path)
	if fst, ferr := l.f.Stat(); err == nil && ferr == nil && os.SameFile(st, fst) {
		return
	}
	if err := l.reopenLocked(); err != nil {
		l.logLocked(now, "decision log: the file was moved or removed and cannot be opened again; still writing to the old one", err)
	}
}

// failLocked records a failed write: the line is dropped, the file is
// closed and opened again after retryEvery.
func (l *Logger) failLocked(now time.Time, err error) {
	if l.f != nil {
		_ = l.f.Close()
		l.f, l.w = nil, nil
		l.retryAt = now.Add(retryEvery)
	}
	l.dropLocked(now, err)
}

func (l *Logger) dropLocked(now time.Time, err error) {
	l.dropped.Add(1)
	l.failing = true
	l.logLocked(now, "decision log: a line could not be written and is dropped; the decision stands", err)
}

// logLocked logs a sink failure, at most once every failureLogEvery.
func (l *Logger) logLocked(now time.Time, msg string, err error) {
	if !l.loggedAt.IsZero() && now.Sub(l.loggedAt) < failureLogEvery {
		return
	}
	l.loggedAt = now
	l.opts.Log.Warn(msg, "path", l.path, "error", err.Error(), "dropped_total", l.dropped.Load())
}

// Detail levels of a line, from everything to what always fits.
const (
	detailFull      = iota // the input and every text
	detailNoInput          // the input replaced by its size
	detailNoFixes          // and no fix texts
	detailRulesOnly        // and violations cut to their rule IDs and short messages
)

// appendLine renders rec as one line, newline included, under
// MaxLineBytes: the input goes first, then the fix texts, then the
// violations' long messages; the decision fields always stay.
func (l *Logger) appendLine(b []byte, rec *authz.Record, now time.Time) []byte {
	start := len(b)
	id := newID()
	var input []byte
	if v, ok := rec.Input(); ok {
		if enc, ok := l.inputs.get(v); ok {
			input = enc
		} else {
			e := l.encoders.Get().(*encoder)
			defer l.encoders.Put(e)
			e.buf = e.appendInput(e.buf[:0], v)
			input = e.buf
			l.inputs.put(v, input)
			if cap(e.buf) > 256<<10 {
				e.buf = nil // keep the pool's buffers small
			}
		}
	}
	for detail := detailFull; ; detail++ {
		b = l.appendEntry(b[:start], rec, now, id, input, detail)
		if len(b)-start <= MaxLineBytes || detail == detailRulesOnly {
			return b
		}
	}
}

// maxField bounds the request path, image and container names of a line:
// they are the client's, and a line stays a line whatever it sent.
const maxField = 512

// Bounds of the last detail level, so that it always fits.
const (
	maxShortMessage = 512
	maxListed       = 64
)

func (l *Logger) appendEntry(b []byte, rec *authz.Record, now time.Time, id string, input []byte, detail int) []byte {
	b = append(b, `{"decision_id":`...)
	b = appendString(b, id)
	b = append(b, `,"timestamp":`...)
	b = appendString(b, now.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"path":"`+QueryPath+`"`...)
	if len(l.labels) > 0 {
		b = append(b, `,"labels":`...)
		b = append(b, l.labels...)
	}
	b = append(b, `,"request":{"method":`...)
	b = appendString(b, cut(rec.Method, maxField))
	b = append(b, `,"path":`...)
	b = appendString(b, cut(rec.Path, maxField))
	b = append(b, `,"action":`...)
	b = appendString(b, cut(rec.Action, maxField))
	b = append(b, '}')
	for _, f := range [...]struct{ k, v string }{
		{"image", rec.Image}, {"image_source", rec.ImageSource}, {"container", rec.Container}, {"service", rec.Service},
	} {
		if f.v != "" {
			b = append(b, `,"`+f.k+`":`...)
			b = appendString(b, cut(f.v, maxField))
		}
	}

	b = append(b, `,"result":{"allow":`...)
	b = strconv.AppendBool(b, rec.Allow)
	if rec.Msg != "" {
		b = append(b, `,"message":`...)
		msg := rec.Msg
		if detail >= detailRulesOnly {
			msg = cut(msg, maxShortMessage)
		}
		b = appendString(b, msg)
	}
	b = append(b, `,"violations":`...)
	b = appendViolations(b, rec.Violations, detail)
	b = append(b, `,"warnings":`...)
	b = appendViolations(b, rec.Warnings, detail)
	b = append(b, '}')

	b = append(b, `,"rules":`...)
	b = appendIDs(b, rec.Rules(), detail)
	warnIDs := make([]string, len(rec.Warnings))
	for i, w := range rec.Warnings {
		warnIDs[i] = w.Rule
	}
	b = append(b, `,"warnings":`...)
	b = appendIDs(b, warnIDs, detail)
	b = append(b, `,"mode":`...)
	b = appendString(b, rec.Mode.String())
	if rec.WouldDeny {
		b = append(b, `,"would_deny":true`...)
	}
	if len(rec.Demoted) > 0 {
		b = append(b, `,"demoted":`...)
		b = appendViolations(b, rec.Demoted, max(detail, detailNoFixes))
	}
	b = append(b, `,"skipped":[`...)
	for i, sk := range rec.Skipped {
		if detail >= detailRulesOnly && i == maxListed {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = appendString(b, cut(sk.Violation.Rule, maxField))
		b = append(b, `,"exception":`...)
		b = strconv.AppendInt(b, int64(sk.Exception), 10)
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(sk.Line), 10)
		b = append(b, `,"reason":`...)
		b = appendString(b, cut(sk.Reason, maxShortMessage))
		if sk.Owner != "" {
			b = append(b, `,"owner":`...)
			b = appendString(b, cut(sk.Owner, maxField))
		}
		if sk.Expires != "" {
			b = append(b, `,"expires":`...)
			b = appendString(b, cut(sk.Expires, maxField))
		}
		if sk.Warning {
			b = append(b, `,"warning":true`...)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if len(rec.Expired) > 0 {
		b = append(b, `,"expired_exceptions":[`...)
		for i, e := range rec.Expired {
			if detail >= detailRulesOnly && i == maxListed {
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rule":`...)
			b = appendString(b, cut(e.Rule, maxField))
			b = append(b, `,"note":`...)
			b = appendString(b, cut(e.Note(), maxShortMessage))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if rec.Reused {
		b = append(b, `,"reused":true`...)
	}
	if rec.Err != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, cut(rec.Err, maxShortMessage*2))
	}
	if rec.IndexErr != "" {
		b = append(b, `,"index_error":`...)
		b = appendString(b, cut(rec.IndexErr, maxShortMessage*2))
	}
	b = append(b, `,"latency_ns":`...)
	b = strconv.AppendInt(b, int64(rec.Duration), 10)
	gen := rec.PolicyGeneration()
	b = append(b, `,"policy_generation":`...)
	b = strconv.AppendUint(b, gen, 10)
	if l.opts.Revision != nil {
		b = append(b, `,"policy_revision":`...)
		b = appendString(b, cut(l.opts.Revision(gen), maxField))
	}
	if l.opts.Bundles != nil {
		b = appendBundles(b, l.opts.Bundles(gen))
	}
	switch {
	case input == nil:
	case detail == detailFull:
		b = append(b, `,"input":`...)
		b = append(b, input...)
	default:
		b = append(b, `,"input_truncated":{"bytes":`...)
		b = strconv.AppendInt(b, int64(len(input)), 10)
		b = append(b, `,"max_line_bytes":`...)
		b = strconv.AppendInt(b, MaxLineBytes, 10)
		b = append(b, '}')
	}
	return append(b, '}', '\n')
}

// appendViolations writes violations without their fix actions (the
// compose edits of `authz check --fix`, which quote the probe whole).
func appendViolations(b []byte, vs []policy.Violation, detail int) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if detail >= detailRulesOnly && i == maxListed {
			b = append(b, `,{"truncated":`...)
			b = strconv.AppendInt(b, int64(len(vs)-i), 10)
			b = append(b, '}')
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = appendString(b, cut(v.Rule, maxField))
		b = append(b, `,"severity":`...)
		b = appendString(b, cut(v.Severity, maxField))
		msg, title := v.Message, v.Title
		if detail >= detailRulesOnly {
			msg, title = cut(msg, maxShortMessage), cut(title, maxShortMessage)
		}
		b = append(b, `,"title":`...)
		b = appendString(b, title)
		b = append(b, `,"message":`...)
		b = appendString(b, msg)
		if detail < detailNoFixes {
			b = append(b, `,"fix":{"summary":`...)
			b = appendString(b, v.Fix.Summary)
			for _, f := range [...]struct{ k, v string }{
				{"compose", v.Fix.Compose}, {"docker_run", v.Fix.DockerRun}, {"alternative", v.Fix.Alternative},
			} {
				if f.v != "" {
					b = append(b, `,"`+f.k+`":`...)
					b = appendString(b, f.v)
				}
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendIDs(b []byte, ids []string, detail int) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if detail >= detailRulesOnly && i == maxListed {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, cut(id, maxField))
	}
	return append(b, ']')
}

func appendLabels(b []byte, labels map[string]string) []byte {
	if len(labels) == 0 {
		return nil
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, labels[k])
	}
	return append(b, '}')
}

// cut bounds s to n bytes, on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func utf8RuneStart(c byte) bool { return c&0xc0 != 0x80 }

// newID is a random version 4 UUID, as OPA's decision IDs are.
func newID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand panics instead)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(b[:])
}

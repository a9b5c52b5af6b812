package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins/logs"
	"github.com/open-policy-agent/opa/v1/server"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/decisionlog"
)

// uploadQueue bounds the decisions waiting to be handed to OPA's logs
// plugin. A decision never waits for the upload: past the bound, the
// record is dropped and counted (the logs plugin has its own buffer
// limits for a collector that does not answer).
const uploadQueue = 4096

// Uploader sends every decision the policies made to OPA's decision-log
// plugin (decision_logs in the OPA configuration), which batches,
// gzips and POSTs them to <service>/logs.
//
// Each decision is rendered by a decisionlog.Logger with the local
// log's options, so what leaves the host is masked exactly as the local
// line is (environment values, credentials, --mask paths), by the same
// code; the line is then read back into OPA's event fields: decision_id,
// timestamp, path, input, result (allow, message, violations, warnings)
// and bundles, the rest of the line (rules, mode, image, policy_revision,
// …) in `custom`.
type Uploader struct {
	lines   *decisionlog.Logger
	plugin  *logs.Plugin
	queue   chan authz.Record
	dropped atomic.Int64
	failed  atomic.Int64
	log     *slog.Logger
	done    chan struct{}
	// mu guards closed: a decision that outlives the server's shutdown
	// must not send on the closed queue.
	mu     sync.RWMutex
	closed bool
}

// Uploader returns the decision uploader of f, nil when the
// configuration has no decision_logs. opts are the decision log's
// options (masks, labels, revisions). Close it before Stop.
func (f *Fleet) Uploader(opts decisionlog.Options) *Uploader {
	p := logs.Lookup(f.cfg.manager)
	if p == nil {
		return nil
	}
	u := &Uploader{plugin: p, queue: make(chan authz.Record, uploadQueue), log: f.log, done: make(chan struct{})}
	u.lines = decisionlog.New(eventWriter{u}, opts)
	go u.run()
	return u
}

// Observe queues rec for upload, unless no policy saw it (a fast-path
// allow, which the local log leaves out too). It implements
// authz.Observer.
func (u *Uploader) Observe(_ context.Context, rec authz.Record) {
	if rec.FastPath() {
		return
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.closed {
		u.dropped.Add(1)
		return
	}
	select {
	case u.queue <- rec:
	default:
		if u.dropped.Add(1)%1000 == 1 {
			u.log.Warn("decision upload queue full; decisions are dropped from the upload (the local log keeps them)", "dropped_total", u.dropped.Load())
		}
	}
}

// Dropped counts the decisions not uploaded: a full queue, or an event
// the logs plugin refused.
func (u *Uploader) Dropped() int64 { return u.dropped.Load() + u.failed.Load() }

// Close hands the queued decisions to the logs plugin and stops.
func (u *Uploader) Close() {
	u.mu.Lock()
	if !u.closed {
		u.closed = true
		close(u.queue)
	}
	u.mu.Unlock()
	<-u.done
}

func (u *Uploader) run() {
	defer close(u.done)
	for rec := range u.queue {
		u.lines.Observe(context.Background(), rec)
	}
}

// standardFields are the line's fields that have a place of their own in
// OPA's event; the others go to custom.
var standardFields = map[string]bool{"decision_id": true, "timestamp": true, "path": true, "labels": true, "input": true, "result": true, "bundles": true}

// eventWriter receives the decision lines and hands each to the logs
// plugin as one event.
type eventWriter struct{ u *Uploader }

func (w eventWriter) Write(line []byte) (int, error) {
	info, err := decodeEvent(line)
	if err == nil {
		err = w.u.plugin.Log(context.Background(), info)
	}
	if err != nil {
		if w.u.failed.Add(1)%1000 == 1 {
			w.u.log.Warn("decision upload: an event was not handed to the logs plugin", "error", err.Error(), "failed_total", w.u.failed.Load())
		}
	}
	// Never an error: the decisionlog.Logger would take the sink for
	// broken and drop the next lines too.
	return len(line), nil
}

// decodeEvent reads one decision line back into the event the logs
// plugin sends.
func decodeEvent(line []byte) (*server.Info, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("decision line: %w", err)
	}
	info := &server.Info{Custom: map[string]any{}}
	if err := json.Unmarshal(fields["decision_id"], &info.DecisionID); err != nil || info.DecisionID == "" {
		return nil, errors.New("decision line: no decision_id")
	}
	var ts string
	if err := json.Unmarshal(fields["timestamp"], &ts); err == nil {
		info.Timestamp, _ = time.Parse(time.RFC3339Nano, ts)
	}
	_ = json.Unmarshal(fields["path"], &info.Path)
	for k, dst := range map[string]**any{"input": &info.Input, "result": &info.Results} {
		raw, ok := fields[k]
		if !ok {
			continue
		}
		v, err := decodeAny(raw)
		if err != nil {
			return nil, fmt.Errorf("decision line: %s: %w", k, err)
		}
		*dst = &v
	}
	if raw, ok := fields["bundles"]; ok {
		var bs map[string]struct {
			Revision string `json:"revision"`
		}
		if err := json.Unmarshal(raw, &bs); err == nil && len(bs) > 0 {
			info.Bundles = make(map[string]server.BundleInfo, len(bs))
			for n, b := range bs {
				info.Bundles[n] = server.BundleInfo{Revision: b.Revision}
			}
		}
	}
	for k, raw := range fields {
		if standardFields[k] {
			continue
		}
		v, err := decodeAny(raw)
		if err != nil {
			return nil, fmt.Errorf("decision line: %s: %w", k, err)
		}
		info.Custom[k] = v
	}
	return info, nil
}

// decodeAny decodes a JSON value keeping numbers exact (json.Number), as
// OPA's own events do.
func decodeAny(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

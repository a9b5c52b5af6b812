package imagescan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Following the daemon's events is how new images get indexed before
// their first create asks: dockerd 20.10 calls AuthZRes for pulls, loads
// and imports without a response status (streamed responses never write a
// header), so the response hook cannot tell a success, and the images a
// load or an import brings are named only in their response streams.
//
// The events that name a new image, as dockerd 20.10 and current moby log
// them: image "pull" (Actor.ID is the reference pulled), "load" and
// "import" (the image ID; the containerd store uses its target digest, its
// image ID there), "tag" (the image ID); and container "commit" (the new
// image's ID in the "imageID" attribute; 20.10 logs no image event for an
// untagged commit). Image "create" (current moby's builds and commits) is
// not asked for: the same filter would bring every container create, and
// a tagged build also logs "tag".
const (
	// maxBacklog bounds the events waiting to be warmed; when full, the
	// oldest is dropped (its image is scanned on its first create).
	maxBacklog = 256
	// streamLifetime bounds one events call: it asks the daemon to end
	// the stream ("until") and the next call starts where it ended
	// ("since"), so no call runs without a deadline and no event between
	// two calls is lost.
	streamLifetime = 10 * time.Minute
	// streamGrace is how long past its "until" a stream may run before it
	// is cut, for a daemon that does not end it.
	streamGrace = 30 * time.Second
	// connectTimeout bounds the wait for the daemon to answer the events
	// call (its call goes through this plugin, which must be serving).
	connectTimeout = 10 * time.Second
	// inspectTimeout bounds resolving a pulled reference to an image ID.
	inspectTimeout = 10 * time.Second
	// earlyEnd is how much before its "until" a stream may end and still
	// count as ended by the daemon on time, clocks apart; an earlier end
	// (a daemon shutting down, a proxy) waits out the backoff.
	earlyEnd = 5 * time.Second
	// reconnectMin and reconnectMax bound the wait before the events call
	// is made again after it failed.
	reconnectMin = time.Second
	reconnectMax = time.Minute
)

// ImageWatcher is told what the daemon's event stream says of its images:
// imagefacts.CachedInspector remembers image inspects only while it is.
type ImageWatcher interface {
	// SetLive is called with true once an events call is answered and
	// with false when it ends: changes between two calls are replayed
	// (since), but were not reported while they happened.
	SetLive(live bool)
	// ImagesChanged is called for every image event (pull, load, import,
	// tag, untag, delete).
	ImagesChanged()
}

// WatchImages has w told of the event stream and its image events, from
// the next events call on.
func (s *Scanner) WatchImages(w ImageWatcher) { s.watcher.Store(&w) }

// WatchEvents indexes the images the daemon pulls, loads, imports, tags
// and commits, one at a time, as their events arrive, until ctx is done.
// The events call is made again when the daemon ends it or it fails, with
// a backoff after failures; events the backlog has no room for are
// dropped, oldest first, and counted (Stats.EventsDropped). Start it once
// the plugin serves, as its own call to the daemon goes through the plugin.
func (s *Scanner) WatchEvents(ctx context.Context) {
	q := newBacklog(maxBacklog)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.warmFromBacklog(ctx, q)
	}()
	s.followEvents(ctx, q)
	wg.Wait()
}

// followEvents makes the events call again and again until ctx is done.
func (s *Scanner) followEvents(ctx context.Context, q *backlog) {
	since := time.Now()
	delay := s.reconnectMin
	failures := 0
	s.log.Info("image events: following the daemon's events to index new images")
	for ctx.Err() == nil {
		until := time.Now().Add(s.streamLifetime)
		last, err := s.stream(ctx, since, until, q)
		if !last.IsZero() {
			// The next call replays what came after the last event the
			// daemon sent, and that event too: warming an image twice
			// costs nothing. Without an event, since stays: nothing
			// after it was missed, and the daemon's buffer is small.
			since = last
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil && time.Now().Before(until.Add(-earlyEnd)) {
			err = errors.New("the daemon ended the event stream before its deadline")
		}
		if err == nil {
			delay, failures = s.reconnectMin, 0
			continue
		}
		failures++
		s.log.Warn("image events: the daemon's event stream failed; new images are indexed on their first create until it is back",
			"error", err.Error(), "failures", failures, "retry_in", delay.String())
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(delay*2, reconnectMax)
	}
}

// stream follows one events call from since until the daemon ends it at
// until, and returns the time of the last event it queued. The daemon
// ending the stream is not an error.
func (s *Scanner) stream(ctx context.Context, since, until time.Time, q *backlog) (time.Time, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	connect := time.AfterFunc(s.connectTimeout, cancel)
	res := s.client.Events(sctx, client.EventsListOptions{
		Since: timestamp(since),
		Until: timestamp(until),
		Filters: make(client.Filters).
			Add("type", string(events.ImageEventType), string(events.ContainerEventType)).
			Add("event", string(events.ActionPull), string(events.ActionLoad), string(events.ActionImport),
				string(events.ActionTag), string(events.ActionCommit), string(events.ActionUnTag), string(events.ActionDelete)),
	})
	if !connect.Stop() {
		return time.Time{}, fmt.Errorf("the daemon did not answer the events call within %s", s.connectTimeout)
	}
	// What watchers remember of the daemon's images holds while this
	// stream reports every change, and not a moment longer.
	w := s.watcher.Load()
	if w != nil {
		(*w).SetLive(true)
		defer (*w).SetLive(false)
	}
	cut := time.AfterFunc(time.Until(until)+streamGrace, cancel)
	defer cut.Stop()
	var last time.Time
	for {
		select {
		case m := <-res.Messages:
			if w != nil && m.Type == events.ImageEventType {
				(*w).ImagesChanged()
			}
			if ref := eventImage(m); ref != "" {
				s.eventsSeen.Add(1)
				if q.push(ref) {
					if n := s.dropped.Add(1); n == 1 || n%100 == 0 {
						s.log.Warn("image events: backlog full; dropped the oldest image to index (it is indexed on its first create)",
							"backlog", maxBacklog, "dropped_total", n)
					}
				}
			}
			if m.TimeNano > 0 {
				last = time.Unix(0, m.TimeNano)
			}
		case err := <-res.Err:
			switch {
			case err == nil, errors.Is(err, io.EOF):
				return last, nil
			case ctx.Err() != nil:
				return last, nil
			case sctx.Err() != nil:
				return last, fmt.Errorf("the daemon did not end the event stream at its deadline: %w", err)
			}
			return last, err
		}
	}
}

// timestamp is the events API's form of t: seconds and nanoseconds.
func timestamp(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// eventImage returns the image an event names (an ID or, for a pull, a
// reference), or "" when the event brings none.
func eventImage(m events.Message) string {
	switch {
	case m.Type == events.ImageEventType:
		switch m.Action {
		case events.ActionPull, events.ActionLoad, events.ActionImport, events.ActionTag:
			return m.Actor.ID
		}
	case m.Type == events.ContainerEventType && m.Action == events.ActionCommit:
		return m.Actor.Attributes["imageID"]
	}
	return ""
}

// warmFromBacklog indexes the backlog's images one at a time until ctx is
// done, resolving references (pulls) to image IDs with image inspect.
func (s *Scanner) warmFromBacklog(ctx context.Context, q *backlog) {
	for {
		ref, ok := q.pop(ctx)
		if !ok {
			return
		}
		id := ref
		if !imageID.MatchString(ref) {
			ictx, cancel := context.WithTimeout(ctx, inspectTimeout)
			res, err := s.client.ImageInspect(ictx, ref)
			cancel()
			if err != nil {
				s.log.Debug("image events: cannot resolve an image to index", "image", ref, "error", err.Error())
				continue
			}
			id = res.ID
		}
		s.warmWait(ctx, id)
	}
}

// backlog is a bounded queue of images to index: one entry per image, and
// the oldest dropped when full, since the newest is the likeliest to be
// run next.
type backlog struct {
	mu    sync.Mutex
	items []string
	max   int
	ready chan struct{} // has a value while items is not empty
}

func newBacklog(max int) *backlog {
	return &backlog{max: max, ready: make(chan struct{}, 1)}
}

// push queues ref unless it is queued already, and reports whether the
// oldest entry was dropped to make room.
func (b *backlog) push(ref string) (dropped bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.items {
		if r == ref {
			return false
		}
	}
	if len(b.items) >= b.max {
		b.items = b.items[1:]
		dropped = true
	}
	b.items = append(b.items, ref)
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return dropped
}

// pop waits for the oldest entry until ctx is done.
func (b *backlog) pop(ctx context.Context) (string, bool) {
	for {
		b.mu.Lock()
		if len(b.items) > 0 {
			ref := b.items[0]
			b.items = b.items[1:]
			if len(b.items) > 0 {
				select {
				case b.ready <- struct{}{}:
				default:
				}
			}
			b.mu.Unlock()
			return ref, true
		}
		b.mu.Unlock()
		select {
		case <-b.ready:
		case <-ctx.Done():
			return "", false
		}
	}
}

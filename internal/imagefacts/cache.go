package imagefacts

import (
	"context"
	"sync"
	"time"
)

// DefaultInspectTTL bounds how long a remembered image inspect answers
// for its reference, even while the daemon's events say nothing changed.
const DefaultInspectTTL = 10 * time.Second

// inspectCacheSize bounds the references remembered: a host's creates
// name far fewer images.
const inspectCacheSize = 512

// CachedInspector remembers what Inner answered for each reference, so a
// create does not wait for an image inspect through the daemon (which
// itself passes this plugin) when the image was inspected moments ago:
// that round trip was most of a repeated create's time.
//
// A remembered answer is only used while it cannot be stale beyond what
// the daemon reports: the cache is off until the daemon's event stream
// is followed (SetLive), emptied whenever an image is pulled, loaded,
// imported, tagged, untagged or deleted (ImagesChanged), and each answer
// expires after TTL anyway. The window left, between a change in the
// daemon and its event arriving, is the one every decision already has
// between the plugin's inspect and dockerd's own lookup of the
// reference; the start of a container is decided again on the exact
// image ID it was created from.
//
// Only images the daemon has are remembered: a missing image or a failed
// inspect is asked again on the next create.
type CachedInspector struct {
	Inner Inspector
	// TTL bounds an answer's age (DefaultInspectTTL when zero).
	TTL time.Duration
	// now is the clock, replaced in tests.
	now func() time.Time

	mu   sync.Mutex
	live bool
	// gen counts invalidations: an answer the daemon gave while an
	// invalidation happened is not stored, since it may predate it.
	gen     uint64
	entries map[string]cachedFacts
}

type cachedFacts struct {
	facts Facts
	at    time.Time
}

// Inspect answers from the cache when it can, else asks Inner.
func (c *CachedInspector) Inspect(ctx context.Context, ref string) Facts {
	now := c.clock()
	c.mu.Lock()
	live, gen := c.live, c.gen
	e, ok := c.entries[ref]
	c.mu.Unlock()
	if live && ok && now.Sub(e.at) < c.ttl() {
		return e.facts
	}
	f := c.Inner.Inspect(ctx, ref)
	if !live || !f.Found || f.Err != "" {
		return f
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen {
		return f
	}
	if c.entries == nil || len(c.entries) >= inspectCacheSize {
		c.entries = make(map[string]cachedFacts)
	}
	c.entries[ref] = cachedFacts{facts: f, at: now}
	return f
}

// ImagesChanged forgets every answer: the daemon reported an image
// event that may change what a reference names.
func (c *CachedInspector) ImagesChanged() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}

// SetLive turns the cache on while the daemon's events are followed and
// off (empty) when the stream is down, when a change could go unseen.
func (c *CachedInspector) SetLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.gen++
	clear(c.entries)
}

func (c *CachedInspector) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultInspectTTL
}

func (c *CachedInspector) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

package imagefacts

import (
	"context"
	"testing"
	"time"
)

// daemonStub answers like a daemon that has every image but "gone", and
// counts the inspects it was asked, so the tests see which ones the cache
// answered. During may run while an inspect is in flight.
type daemonStub struct {
	calls  int
	during func()
}

func (d *daemonStub) Inspect(_ context.Context, ref string) Facts {
	d.calls++
	if d.during != nil {
		d.during()
	}
	f := Named(ref)
	if ref == "gone" {
		f.Err, f.Missing = "image inspect: No such image", true
		return f
	}
	f.Source, f.Found, f.ID = SourceDaemon, true, "sha256:"+ref
	return f
}

func TestCachedInspector(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	setup := func() (*daemonStub, *CachedInspector) {
		d := &daemonStub{}
		return d, &CachedInspector{Inner: d, TTL: 10 * time.Second, now: func() time.Time { return now }}
	}
	ask := func(c *CachedInspector, ref string, n int) {
		t.Helper()
		for range n {
			if f := c.Inspect(ctx, ref); ref != "gone" && f.ID != "sha256:"+ref {
				t.Fatalf("Inspect(%q) = %+v", ref, f)
			}
		}
	}

	t.Run("off until the events are followed", func(t *testing.T) {
		d, c := setup()
		ask(c, "app", 3)
		if d.calls != 3 {
			t.Fatalf("%d inspects for 3 creates without an event stream, want 3", d.calls)
		}
	})
	t.Run("remembered while live", func(t *testing.T) {
		d, c := setup()
		c.SetLive(true)
		ask(c, "app", 3)
		ask(c, "db", 2)
		if d.calls != 2 {
			t.Fatalf("%d inspects, want one per image (2)", d.calls)
		}
	})
	t.Run("an image event forgets", func(t *testing.T) {
		d, c := setup()
		c.SetLive(true)
		ask(c, "app", 1)
		c.ImagesChanged()
		ask(c, "app", 1)
		if d.calls != 2 {
			t.Fatalf("%d inspects, want 2", d.calls)
		}
	})
	t.Run("the stream going down forgets and stops", func(t *testing.T) {
		d, c := setup()
		c.SetLive(true)
		ask(c, "app", 1)
		c.SetLive(false)
		ask(c, "app", 2)
		if d.calls != 3 {
			t.Fatalf("%d inspects, want 3", d.calls)
		}
	})
	t.Run("expires after its TTL", func(t *testing.T) {
		d, c := setup()
		c.SetLive(true)
		ask(c, "app", 1)
		now = now.Add(9 * time.Second)
		ask(c, "app", 1)
		now = now.Add(2 * time.Second)
		ask(c, "app", 1)
		if d.calls != 2 {
			t.Fatalf("%d inspects, want 2 (one expired)", d.calls)
		}
	})
	t.Run("missing images are asked again", func(t *testing.T) {
		d, c := setup()
		c.SetLive(true)
		ask(c, "gone", 2)
		if d.calls != 2 {
			t.Fatalf("%d inspects, want 2", d.calls)
		}
	})
	t.Run("an answer older than an event is not kept", func(t *testing.T) {
		d, c := setup()
		c.SetLive(true)
		d.during = c.ImagesChanged // the tag moves while the daemon answers
		ask(c, "app", 1)
		d.during = nil
		ask(c, "app", 1)
		if d.calls != 2 {
			t.Fatalf("%d inspects, want 2: the answer given during the event was kept", d.calls)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		_, c := setup()
		c.SetLive(true)
		for i := range inspectCacheSize + 5 {
			ask(c, string(rune('a'+i%26))+time.Duration(i).String(), 1)
		}
		if n := len(c.entries); n > inspectCacheSize {
			t.Fatalf("%d entries, bound %d", n, inspectCacheSize)
		}
	})
}

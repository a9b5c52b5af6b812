package imagescan

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eventLine is one event as dockerd 20.10 writes it on /events.
func eventLine(typ, action, id string, attrs map[string]string, at time.Time) string {
	var a []string
	for k, v := range attrs {
		a = append(a, fmt.Sprintf("%q:%q", k, v))
	}
	return fmt.Sprintf(`{"Type":%q,"Action":%q,"Actor":{"ID":%q,"Attributes":{%s}},"scope":"local","time":%d,"timeNano":%d}`+"\n",
		typ, action, id, strings.Join(a, ","), at.Unix(), at.UnixNano())
}

// serveEvents writes lines as an event stream, then ends it or, with hold,
// keeps it open until the client goes.
func serveEvents(w http.ResponseWriter, r *http.Request, hold bool, lines ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	for _, l := range lines {
		w.Write([]byte(l))
	}
	w.(http.Flusher).Flush()
	if hold {
		<-r.Context().Done()
	}
}

// TestWatchEventsWarmsNewImages: loads, imports, pulls (a reference, which
// image inspect resolves), tags and commits bring their images to the
// index without any create; other events do not. When the daemon ends the
// stream, the next call starts where it ended.
func TestWatchEventsWarmsNewImages(t *testing.T) {
	t0 := time.Now()
	d := &daemon{body: export(t)}
	d.events = func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0:
			serveEvents(w, r, false,
				eventLine("image", "load", idA, map[string]string{"name": idA}, t0),
				eventLine("container", "create", strings.Repeat("1", 64), map[string]string{"image": idB}, t0),
				eventLine("image", "pull", "acme/api:1", map[string]string{"name": "acme/api"}, t0),
				eventLine("container", "commit", strings.Repeat("2", 64), map[string]string{"imageID": idC}, t0),
				eventLine("image", "tag", idA, map[string]string{"name": "acme/api:2"}, t0),
				eventLine("image", "delete", idB, nil, t0.Add(time.Second)))
		case 1:
			serveEvents(w, r, true, eventLine("image", "import", idB, nil, t0.Add(2*time.Second)))
		default:
			serveEvents(w, r, true)
		}
	}
	var logs logBuffer
	s := New(d.start(t), "", logs.logger())
	s.reconnectMin = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.WatchEvents(ctx); close(done) }()

	waitFor(t, func() bool { return len(d.exports()) == 4 })
	got := d.exports()
	if want := []string{idA, idD, idC, idB}; !slices.Equal(got, want) {
		t.Errorf("exported %q, want %q (load, pull, commit, import)", got, want)
	}
	for _, id := range []string{idA, idB, idC, idD} {
		if _, err := s.Lookup(context.Background(), id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if st := s.Stats(); st.EventsSeen != 5 || st.EventsDropped != 0 {
		t.Errorf("stats %+v: want 5 events seen (load, pull, commit, tag, import)", st)
	}

	d.mu.Lock()
	queries := append([]string(nil), d.queries...)
	d.mu.Unlock()
	if len(queries) < 2 {
		t.Fatalf("events calls: %q", queries)
	}
	first, _ := url.ParseQuery(queries[0])
	second, _ := url.ParseQuery(queries[1])
	for _, want := range []string{`"type":{"container":true,"image":true}`, `"pull":true`, `"load":true`, `"import":true`, `"tag":true`, `"commit":true`} {
		if !strings.Contains(first.Get("filters"), want) {
			t.Errorf("filters %s lack %s", first.Get("filters"), want)
		}
	}
	if first.Get("until") == "" || first.Get("since") == "" {
		t.Errorf("the first call has no since or until: %q", queries[0])
	}
	// The daemon ended the first stream, long before its deadline: the
	// second call waits out the backoff and starts at the last event, so
	// nothing in between is lost.
	if want := timestamp(t0.Add(time.Second)); second.Get("since") != want {
		t.Errorf("second call since %q, want %q (the last event's time)", second.Get("since"), want)
	}
	if !strings.Contains(logs.String(), "ended the event stream before its deadline") {
		t.Errorf("the early end is not logged:\n%s", logs.String())
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("WatchEvents did not stop with its context")
	}
}

// A stream the daemon ends at its "until" is followed by the next at once,
// from the same "since" when no event came: nothing is logged.
func TestWatchEventsRenewsItsStream(t *testing.T) {
	d := &daemon{body: export(t)}
	d.events = func(n int, w http.ResponseWriter, r *http.Request) {
		until, err := strconv.ParseFloat(r.URL.Query().Get("until"), 64)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select { // as dockerd does: the stream ends at until
		case <-time.After(time.Until(time.Unix(0, int64(until*1e9)))):
		case <-r.Context().Done():
		}
	}
	var logs logBuffer
	s := New(d.start(t), "", logs.logger())
	s.streamLifetime = 100 * time.Millisecond
	s.reconnectMin = time.Hour // a failure would stall the test
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.WatchEvents(ctx)
	waitFor(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.queries) >= 3
	})
	d.mu.Lock()
	first, _ := url.ParseQuery(d.queries[0])
	third, _ := url.ParseQuery(d.queries[2])
	d.mu.Unlock()
	if first.Get("since") != third.Get("since") || first.Get("until") == third.Get("until") {
		t.Errorf("calls %v and %v: want the same since and a later until", first, third)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warnings for streams the daemon ended on time:\n%s", logs.String())
	}
}

// A failing or silent events call is made again, after a backoff; the
// connect deadline cuts a daemon that never answers.
func TestWatchEventsReconnects(t *testing.T) {
	d := &daemon{body: export(t)}
	d.events = func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0:
			http.Error(w, `{"message":"no events for you"}`, 500)
		case 1:
			<-r.Context().Done() // never answers
		case 2:
			serveEvents(w, r, true, eventLine("image", "load", idA, nil, time.Now()))
		default:
			serveEvents(w, r, true)
		}
	}
	var logs logBuffer
	s := New(d.start(t), "", logs.logger())
	s.connectTimeout, s.reconnectMin = 200*time.Millisecond, 50*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.WatchEvents(ctx)
	waitFor(t, func() bool { return len(d.exports()) == 1 })
	out := logs.String()
	for _, want := range []string{"no events for you", "did not answer the events call within 200ms", "failures=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// A burst of new images larger than the backlog drops the oldest, counts
// and logs it; the newest are indexed.
func TestWatchEventsBacklogDropsTheOldest(t *testing.T) {
	const burst = maxBacklog + 44
	ids := make([]string, burst)
	for i := range ids {
		ids[i] = fmt.Sprintf("sha256:%064x", i+1)
	}
	d := &daemon{body: export(t), hold: make(chan struct{})}
	d.events = func(n int, w http.ResponseWriter, r *http.Request) {
		if n > 0 {
			serveEvents(w, r, true)
			return
		}
		var lines []string
		for _, id := range ids {
			lines = append(lines, eventLine("image", "load", id, nil, time.Now()))
		}
		serveEvents(w, r, true, lines...)
	}
	var logs logBuffer
	s := New(d.start(t), "", logs.logger())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.WatchEvents(ctx)
	// The first image is taken at once and its export held; the rest
	// queue, and the overflow drops the oldest waiting.
	waitFor(t, func() bool { return s.Stats().EventsSeen == burst })
	dropped := s.Stats().EventsDropped
	if dropped < burst-maxBacklog-1 || dropped > burst-maxBacklog {
		t.Errorf("dropped %d of %d, want %d or %d", dropped, burst, burst-maxBacklog-1, burst-maxBacklog)
	}
	if !strings.Contains(logs.String(), "backlog full; dropped the oldest") {
		t.Errorf("no log of the drop:\n%s", logs.String())
	}
	close(d.hold)
	waitFor(t, func() bool { return len(d.exports()) >= maxBacklog })
	got := d.exports()
	if got[len(got)-1] != ids[burst-1] && !slices.Contains(got, ids[burst-1]) {
		t.Errorf("the newest image was not indexed")
	}
	if slices.Contains(got, ids[burst-maxBacklog-2]) {
		t.Errorf("an image dropped from the backlog was indexed")
	}
}

func TestBacklog(t *testing.T) {
	b := newBacklog(3)
	for _, r := range []string{"a", "b", "a", "c"} {
		if b.push(r) {
			t.Errorf("push(%s) dropped", r)
		}
	}
	if !b.push("d") {
		t.Error("push into a full backlog dropped nothing")
	}
	ctx := context.Background()
	var got []string
	for range 3 {
		r, ok := b.pop(ctx)
		if !ok {
			t.Fatal("pop failed")
		}
		got = append(got, r)
	}
	if !slices.Equal(got, []string{"b", "c", "d"}) {
		t.Errorf("popped %q, want the oldest dropped", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok := b.pop(cctx); ok {
		t.Error("pop of an empty backlog with a done context returned an entry")
	}
	// A pop that waits wakes up on a push.
	res := make(chan string)
	go func() { r, _ := b.pop(ctx); res <- r }()
	time.Sleep(10 * time.Millisecond)
	b.push("e")
	select {
	case r := <-res:
		if r != "e" {
			t.Errorf("popped %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pop did not wake up")
	}
}

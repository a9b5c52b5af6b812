package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"
)

// serveSocket serves h on a unix socket in a short temporary directory
// (socket paths are limited to 108 bytes) until the test ends.
func serveSocket(t *testing.T, h http.Handler) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lg")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "p.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close(); os.RemoveAll(dir) })
	return sock
}

// recorder is a fake plugin: it decodes every call as a plugin must,
// records what it was sent, and answers with answer's choice.
type recorder struct {
	mu     sync.Mutex
	paths  []string
	uris   []string
	delay  time.Duration
	answer func(path string, req authorization.Request) (status int, body string)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	var req authorization.Request
	if err := json.NewDecoder(hr.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.paths = append(r.paths, hr.URL.Path)
	r.uris = append(r.uris, req.RequestMethod+" "+req.RequestURI)
	r.mu.Unlock()
	time.Sleep(r.delay)
	status, body := http.StatusOK, `{"Allow":true}`
	if r.answer != nil {
		status, body = r.answer(hr.URL.Path, req)
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func schedule(t *testing.T, kind string) []Call {
	t.Helper()
	s, err := Schedule(kind)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPercentileIsNearestRank(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.95: 95 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := Percentile(lat, q); got != want {
			t.Errorf("p%v of 1..100 ms = %v, want %v", q*100, got, want)
		}
	}
	// With few samples the tail percentiles are the slowest call, not
	// an interpolation below it.
	few := []time.Duration{1, 2, 3, 10}
	if got := Percentile(few, 0.99); got != 10 {
		t.Errorf("p99 of %v = %v, want 10", few, got)
	}
	if got := Percentile(few, 0.5); got != 2 {
		t.Errorf("p50 of %v = %v, want 2", few, got)
	}
	if got := Percentile(nil, 0.5); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}

// A call dockerd answers is followed by its AuthZRes; every plugin call
// is counted, and only AuthZReq answers count as allowed or denied.
func TestRequestsAreCountedAsDockerdSendsThem(t *testing.T) {
	fake := &recorder{}
	sock := serveSocket(t, fake)
	res, err := Run(context.Background(), Options{Socket: sock, Schedule: schedule(t, "inspect"), Concurrency: 4, Requests: 40})
	if err != nil {
		t.Fatal(err)
	}
	if res.Calls != 80 || res.Allowed != 40 || res.Denied != 0 || res.Errors != 0 {
		t.Errorf("40 inspects: calls=%d allowed=%d denied=%d errors=%d, want 80 calls (AuthZReq and AuthZRes), 40 allowed", res.Calls, res.Allowed, res.Denied, res.Errors)
	}
	reqs, resps := 0, 0
	for _, p := range fake.paths {
		switch p {
		case "/AuthZPlugin.AuthZReq":
			reqs++
		case "/AuthZPlugin.AuthZRes":
			resps++
		}
	}
	if reqs != 40 || resps != 40 {
		t.Errorf("plugin saw %d AuthZReq and %d AuthZRes, want 40 of each", reqs, resps)
	}
	if res.Throughput <= 0 || res.P50 <= 0 || res.Max < res.P99 || res.P99 < res.P95 || res.P95 < res.P50 {
		t.Errorf("inconsistent summary: %+v", res)
	}
	// A denial (by the schedule's reckoning) gets no AuthZRes, as on
	// dockerd, whatever the plugin answers.
	fake.paths = nil
	res, err = Run(context.Background(), Options{Socket: sock, Schedule: schedule(t, "create-deny"), Concurrency: 1, Requests: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Calls != 5 || len(fake.paths) != 5 {
		t.Errorf("5 denied creates: %d calls, plugin saw %d, want 5", res.Calls, len(fake.paths))
	}
}

// The mix sends every kind as often as its weight says, and dockerd's
// client keeps one connection alive for calls made one at a time.
func TestMixFollowsItsWeightsOnOneConnection(t *testing.T) {
	fake := &recorder{}
	sock := serveSocket(t, fake)
	res, err := Run(context.Background(), Options{Socket: sock, Schedule: schedule(t, "mix"), Concurrency: 1, Requests: 2 * MixTotal()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dials != 1 {
		t.Errorf("%d connections for calls one at a time, want 1 kept alive", res.Dials)
	}
	seen := map[string]int{}
	for i, p := range fake.paths {
		if p == "/AuthZPlugin.AuthZReq" {
			seen[fake.uris[i]]++
		}
	}
	for _, c := range Calls {
		if got := seen[c.Request.RequestMethod+" "+c.Request.RequestURI]; got < 2*c.Weight {
			// Two kinds may share a URI (creates by name): at least.
			t.Errorf("%s sent %d times in two rounds of the mix, want %d", c.Kind, got, 2*c.Weight)
		}
	}
	total := 0
	for _, c := range Calls {
		if c.Weight <= 0 {
			t.Errorf("%s is not in the mix", c.Kind)
		}
		total += c.Weight
	}
	if total != 100 {
		t.Errorf("weights sum to %d, want 100 (they are per 100 calls)", total)
	}
	if _, err := Schedule("nope"); err == nil || !strings.Contains(err.Error(), "create-deny") {
		t.Errorf("unknown kind: %v, want the list of kinds", err)
	}
}

// Failures of every sort are counted and described, never dropped.
func TestErrorsAreCounted(t *testing.T) {
	var mu sync.Mutex
	n := 0
	fake := &recorder{answer: func(string, authorization.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		n++
		switch n % 4 {
		case 1:
			return http.StatusInternalServerError, "boom"
		case 2:
			return http.StatusOK, "not json"
		case 3:
			return http.StatusOK, `{"Allow":false,"Err":"policy failed"}`
		}
		return http.StatusOK, `{"Allow":false,"Msg":"no"}`
	}}
	sock := serveSocket(t, fake)
	res, err := Run(context.Background(), Options{Socket: sock, Schedule: schedule(t, "events"), Concurrency: 1, Requests: 8})
	if err != nil {
		t.Fatal(err)
	}
	if res.Calls != 8 || res.Errors != 6 || res.Denied != 2 {
		t.Errorf("calls=%d errors=%d denied=%d, want 8 calls, 6 errors, 2 denials", res.Calls, res.Errors, res.Denied)
	}
	if !strings.Contains(res.FirstError, "HTTP 500") {
		t.Errorf("first error %q, want the HTTP 500", res.FirstError)
	}
	// A socket nobody serves: every call fails, and Run still reports.
	res, err = Run(context.Background(), Options{Socket: filepath.Join(t.TempDir(), "none.sock"), Schedule: schedule(t, "ping"), Concurrency: 2, Requests: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 4 || !strings.Contains(res.FirstError, "connect") {
		t.Errorf("no plugin: errors=%d first=%q, want 4 connection errors", res.Errors, res.FirstError)
	}
	rep := Report{Results: []Comparison{{Kind: "ping", Plugin: res}}}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if rep.Errors() != 4 || !strings.Contains(out.String(), "ping plugin: 4 errors") {
		t.Errorf("report hides the errors (%d):\n%s", rep.Errors(), out.String())
	}
}

// Latencies are measured per call: a plugin that takes 20 ms shows it.
func TestLatenciesAreTheCalls(t *testing.T) {
	sock := serveSocket(t, &recorder{delay: 20 * time.Millisecond})
	res, err := Run(context.Background(), Options{Socket: sock, Schedule: schedule(t, "events"), Concurrency: 2, Requests: 6})
	if err != nil {
		t.Fatal(err)
	}
	if res.P50 < 20*time.Millisecond || res.Max < res.P50 {
		t.Errorf("p50 %v max %v, want at least the plugin's 20 ms", res.P50, res.Max)
	}
	if res.Throughput > 2/0.020*1.05 {
		t.Errorf("%.0f calls/s through two 20 ms slots: more than the plugin can answer", res.Throughput)
	}
}

// The floor speaks the plugin protocol: the handshake says authz, and
// every call, of any kind, is allowed.
func TestFloorAnswersTheProtocol(t *testing.T) {
	f, err := StartFloor()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Activate(context.Background(), f.Socket); err != nil {
		t.Fatal(err)
	}
	c := Client(f.Socket, nil)
	for _, path := range []string{reqPath, resPath} {
		body, _ := json.Marshal(Calls[0].Request)
		resp, err := c.Post("http://plugin"+path, mediaType, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out authorization.Response
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || !out.Allow || out.Err != "" {
			t.Errorf("%s: status %d, %+v, %v; want 200 Allow", path, resp.StatusCode, out, err)
		}
		resp.Body.Close()
	}
	// Compare drives the floor and the plugin with the same load.
	fake := &recorder{answer: func(string, authorization.Request) (int, string) { return 200, `{"Allow":false}` }}
	sock := serveSocket(t, fake)
	cmp, err := Compare(context.Background(), "create-deny", f, Options{Socket: sock, Schedule: schedule(t, "create-deny"), Concurrency: 2, Requests: 10})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Floor.Calls != 10 || cmp.Plugin.Calls != 10 || cmp.Floor.Allowed != 10 || cmp.Plugin.Denied != 10 {
		t.Errorf("floor %+v plugin %+v, want 10 calls each, allowed by the floor and denied by the plugin", cmp.Floor, cmp.Plugin)
	}
	if cmp.P50Ratio <= 0 || cmp.ThroughputRatio <= 0 {
		t.Errorf("ratios not computed: %+v", cmp)
	}
	// Something else on a socket is refused before any load.
	other := serveSocket(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"Implements":["VolumeDriver"]}`)
	}))
	if err := Activate(context.Background(), other); err == nil || !strings.Contains(err.Error(), "not authz") {
		t.Errorf("a volume plugin: %v, want refused", err)
	}
}

// A run by duration stops on time and drops no call cut off by the end.
func TestDurationRun(t *testing.T) {
	sock := serveSocket(t, &recorder{delay: time.Millisecond})
	t0 := time.Now()
	res, err := Run(context.Background(), Options{Socket: sock, Schedule: schedule(t, "mix"), Concurrency: 4, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("a 300 ms run took %v", d)
	}
	if res.Calls == 0 || res.Errors != 0 || res.WarmupErrors != 0 {
		t.Errorf("calls=%d errors=%d warm-up errors=%d, want calls and no errors", res.Calls, res.Errors, res.WarmupErrors)
	}
}

// With UniqueNames every create names a new container, so no decision
// cache can answer it; other calls and the body are unchanged.
func TestUniqueNames(t *testing.T) {
	for _, unique := range []bool{false, true} {
		fake := &recorder{}
		sock := serveSocket(t, fake)
		if _, err := Run(context.Background(), Options{Socket: sock, Schedule: schedule(t, "mix"), Concurrency: 1, Requests: 3 * MixTotal(), UniqueNames: unique}); err != nil {
			t.Fatal(err)
		}
		creates, distinct, others := 0, map[string]bool{}, map[string]bool{}
		for i, u := range fake.uris {
			if fake.paths[i] != reqPath {
				continue
			}
			if strings.Contains(u, "/containers/create") {
				creates++
				distinct[u] = true
				if unique && !strings.Contains(u, "name=") {
					t.Errorf("unique create without a name: %s", u)
				}
			} else {
				others[u] = true
			}
		}
		if creates != 15 {
			t.Errorf("unique=%v: %d creates in three rounds of the mix, want 15", unique, creates)
		}
		if unique && len(distinct) != creates {
			t.Errorf("unique names: %d distinct of %d creates", len(distinct), creates)
		}
		if !unique && len(distinct) != 3 { // seed-app-1, seed-app-health-1, unnamed busybox
			t.Errorf("repeated creates: %d distinct URIs, want 3: %v", len(distinct), distinct)
		}
		if len(others) != len(Calls)-5 {
			t.Errorf("unique=%v: %d distinct other calls, want %d unchanged", unique, len(others), len(Calls)-5)
		}
	}
}

package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"
)

// countingAuthorizer allows everything and counts the calls that reach it,
// so tests can tell a malformed call never got a decision.
type countingAuthorizer struct {
	reqs, ress atomic.Int64
	last       atomic.Pointer[authorization.Request]
	block      chan struct{}
}

func (c *countingAuthorizer) AuthZReq(_ context.Context, r authorization.Request) authorization.Response {
	c.reqs.Add(1)
	c.last.Store(&r)
	if c.block != nil {
		<-c.block
	}
	if r.RequestMethod == "PANIC" {
		panic("boom")
	}
	return authorization.Response{Allow: r.RequestURI != "/deny", Msg: "decided " + r.RequestURI}
}

func (c *countingAuthorizer) AuthZRes(context.Context, authorization.Request) authorization.Response {
	c.ress.Add(1)
	return authorization.Response{Allow: true}
}

type server struct {
	socket string
	client *http.Client
	stop   context.CancelFunc
	done   chan error
}

func start(t *testing.T, a Authorizer) *server {
	t.Helper()
	dir, err := os.MkdirTemp("", "authz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &server{socket: filepath.Join(dir, "p.sock"), done: make(chan error, 1)}
	l, err := Listen(s.socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.done <- Serve(ctx, l, NewHandler(a, nil), discard()) }()
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", s.socket)
		},
	}}
	t.Cleanup(func() { cancel(); <-s.done })
	return s
}

func (s *server) post(t *testing.T, path string, body []byte) (int, authorization.Response, string) {
	t.Helper()
	resp, err := s.client.Post("http://plugin.moby.localhost"+path, "application/vnd.docker.plugins.v1.2+json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var res authorization.Response
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("POST %s: answer is not one JSON object: %q", path, raw)
	}
	if dec.More() {
		t.Fatalf("POST %s: more than one answer: %q", path, raw)
	}
	return resp.StatusCode, res, string(raw)
}

func TestActivate(t *testing.T) {
	s := start(t, &countingAuthorizer{})
	resp, err := s.client.Post("http://p/Plugin.Activate", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Implements []string }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got.Implements) != 1 || got.Implements[0] != "authz" {
		t.Fatalf("activate = %+v, %v; want Implements [authz]", got, err)
	}
}

func TestCallDecodesTheWireFormat(t *testing.T) {
	a := &countingAuthorizer{}
	s := start(t, a)
	body := `{"User":"cn","UserAuthNMethod":"TLS","RequestMethod":"POST","RequestUri":"/v1.41/containers/create?name=x",
		"RequestBody":"eyJJbWFnZSI6ImEifQ==","RequestHeaders":{"User-Agent":"Docker-Client/28.2.2 (linux)"},
		"RequestPeerCertificates":["not a certificate"]}`
	code, res, _ := s.post(t, "/AuthZPlugin.AuthZReq", []byte(body))
	if code != 200 || !res.Allow || res.Msg != "decided /v1.41/containers/create?name=x" {
		t.Fatalf("got %d %+v", code, res)
	}
	got := a.last.Load()
	if got.User != "cn" || string(got.RequestBody) != `{"Image":"a"}` || got.RequestHeaders["User-Agent"] == "" {
		t.Errorf("decoded call = %+v", got)
	}
	if code, res, _ := s.post(t, "/AuthZPlugin.AuthZRes", []byte(`{"RequestMethod":"GET","RequestUri":"/deny","ResponseStatusCode":200}`)); code != 200 || !res.Allow || a.ress.Load() != 1 {
		t.Errorf("AuthZRes: %d %+v", code, res)
	}
}

func TestMalformedCallsGetOneErrorAndServingGoesOn(t *testing.T) {
	a := &countingAuthorizer{}
	s := start(t, a)
	tests := []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"not JSON", []byte("hello"), 400, "malformed"},
		{"empty", nil, 400, "malformed"},
		{"wrong type", []byte(`{"RequestMethod":5,"RequestUri":"/x"}`), 400, "malformed"},
		{"body not base64", []byte(`{"RequestMethod":"POST","RequestUri":"/containers/create","RequestBody":"%%%"}`), 400, "malformed"},
		{"headers wrong type", []byte(`{"RequestMethod":"GET","RequestUri":"/x","RequestHeaders":["a"]}`), 400, "malformed"},
		{"missing method", []byte(`{"RequestUri":"/x"}`), 400, "RequestMethod is missing"},
		{"missing uri", []byte(`{"RequestMethod":"GET"}`), 400, "RequestUri is missing"},
		{"two objects", []byte(`{"RequestMethod":"GET","RequestUri":"/x"}{}`), 400, "after the JSON object"},
		{"huge uri", []byte(`{"RequestMethod":"GET","RequestUri":"/` + strings.Repeat("a", MaxURIBytes) + `"}`), 400, "over the"},
		{"huge call", []byte(`{"RequestMethod":"GET","RequestUri":"/x","User":"` + strings.Repeat("a", MaxCallBytes) + `"}`), 413, "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, res, raw := s.post(t, "/AuthZPlugin.AuthZReq", tt.body)
			if code != tt.status || res.Allow || !strings.Contains(res.Err, tt.want) {
				t.Fatalf("got %d %s; want %d with Allow false and an Err containing %q", code, raw, tt.status, tt.want)
			}
		})
	}
	if n := a.reqs.Load(); n != 0 {
		t.Fatalf("%d malformed calls reached the authorizer; want none", n)
	}
	if code, res, _ := s.post(t, "/AuthZPlugin.AuthZReq", []byte(`{"RequestMethod":"GET","RequestUri":"/_ping"}`)); code != 200 || !res.Allow {
		t.Fatalf("a valid call after malformed ones: %d %+v", code, res)
	}
}

func TestPanicIsDeniedAndServingGoesOn(t *testing.T) {
	s := start(t, &countingAuthorizer{})
	code, res, _ := s.post(t, "/AuthZPlugin.AuthZReq", []byte(`{"RequestMethod":"PANIC","RequestUri":"/x"}`))
	if code != 500 || res.Allow || res.Err == "" {
		t.Fatalf("panic: %d %+v", code, res)
	}
	if code, res, _ := s.post(t, "/AuthZPlugin.AuthZReq", []byte(`{"RequestMethod":"GET","RequestUri":"/x"}`)); code != 200 || !res.Allow {
		t.Fatalf("after panic: %d %+v", code, res)
	}
}

func TestWrongHTTPMethod(t *testing.T) {
	s := start(t, &countingAuthorizer{})
	resp, err := s.client.Get("http://p/AuthZPlugin.AuthZReq")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET status = %d", resp.StatusCode)
	}
}

func TestShutdownFinishesInFlightAndRemovesSocket(t *testing.T) {
	a := &countingAuthorizer{block: make(chan struct{})}
	s := start(t, a)
	answered := make(chan int, 1)
	go func() {
		resp, err := s.client.Post("http://p/AuthZPlugin.AuthZReq", "application/json", strings.NewReader(`{"RequestMethod":"GET","RequestUri":"/x"}`))
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	for a.reqs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.stop()
	// Shutdown waits for the call in flight.
	select {
	case err := <-s.done:
		t.Fatalf("server stopped with a call in flight: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(a.block)
	if code := <-answered; code != 200 {
		t.Fatalf("in-flight call answered %d", code)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	s.done <- nil // for the cleanup
	if _, err := os.Stat(s.socket); !os.IsNotExist(err) {
		t.Fatalf("socket still there after shutdown: %v", err)
	}
}

func TestListen(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live.sock")
	l, err := Listen(live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Listen(live); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second Listen on a live socket: %v", err)
	}

	stale := filepath.Join(dir, "stale.sock")
	sl, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	sl.(*net.UnixListener).SetUnlinkOnClose(false)
	sl.Close()
	l2, err := Listen(stale)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l2.Close()

	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: %v", err)
	}
	if _, err := Listen(filepath.Join(dir, "nested", "dir", "p.sock")); err != nil {
		t.Errorf("Listen must create the socket directory: %v", err)
	}
}

func FuzzCall(f *testing.F) {
	for _, s := range []string{
		`{"RequestMethod":"POST","RequestUri":"/v1.41/containers/create","RequestBody":"e30="}`,
		`{"RequestMethod":"GET","RequestUri":"/_ping","RequestPeerCertificates":[1]}`,
		`{"RequestMethod":5}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	h := NewHandler(&countingAuthorizer{}, discard())
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/AuthZPlugin.AuthZReq", bytes.NewReader(body)))
		var res authorization.Response
		dec := json.NewDecoder(rec.Body)
		if err := dec.Decode(&res); err != nil || dec.More() {
			t.Fatalf("not exactly one JSON answer for %q: %v", body, err)
		}
		if rec.Code != 200 && (res.Allow || res.Err == "") {
			t.Fatalf("status %d with %+v: an error answer must deny and say why", rec.Code, res)
		}
	})
}

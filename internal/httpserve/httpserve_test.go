package httpserve

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// A request in flight when the context ends still gets its answer, and Run
// returns nil once it has.
func TestRunFinishesInFlightRequestsAtShutdown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	entered := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	done := make(chan error, 1)
	go func() { done <- Run(ctx, l, h, nil, Options{ReadTimeout: time.Second, Shutdown: 5 * time.Second}) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-entered
	cancel()
	if s := <-got; s != "done" {
		t.Fatalf("the request in flight at shutdown got %q", s)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after shutdown: %v", err)
	}
}

// A listener that fails ends Run with its error, without waiting for ctx.
func TestRunReturnsTheServersError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	err = Run(context.Background(), l, http.NotFoundHandler(), nil, Options{ReadTimeout: time.Second, Shutdown: time.Second})
	if err == nil {
		t.Fatal("Run on a closed listener returned nil")
	}
}

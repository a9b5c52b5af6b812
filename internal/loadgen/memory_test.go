package loadgen

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"
)

// The plugin's memory is read from the kernel around its part of a
// comparison: here the plugin is this test process, which allocates and
// keeps 64 MiB while it answers, so its resident memory must show it.
func TestMemoryOfThePluginProcess(t *testing.T) {
	f, err := StartFloor()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kept [][]byte
	fake := &recorder{answer: func(string, authorization.Request) (int, string) {
		if len(kept) == 0 {
			b := make([]byte, 64<<20)
			for i := range b {
				b[i] = 1 // touched, so resident
			}
			kept = append(kept, b)
		}
		return 200, `{"Allow":true}`
	}}
	sock := serveSocket(t, fake)
	c, err := Compare(context.Background(), "ping", f, Options{Socket: sock, Schedule: schedule(t, "ping"), Concurrency: 1, Requests: 3, PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Memory
	if m == nil {
		t.Fatal("no memory reported with a PID")
	}
	if m.RSSAfter-m.RSSBefore < 60<<20 || m.AnonAfter < 60<<20 || m.PeakRSS < m.RSSAfter {
		t.Errorf("memory %+v: want the 64 MiB kept by the plugin in RSS and anonymous memory, peak at least RSS", *m)
	}
	var sb strings.Builder
	if err := (Report{Results: []Comparison{c}}).WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "ping: plugin resident ") {
		t.Errorf("the text report does not say the memory:\n%s", sb.String())
	}
	if len(kept) != 1 {
		t.Fatal("the plugin did not answer")
	}
}

func TestMemoryOfAMissingProcess(t *testing.T) {
	_, err := MeasureMemory(1<<30, func() error { t.Fatal("ran the load for a process that does not exist"); return nil })
	if err == nil || !strings.Contains(err.Error(), "--pid") {
		t.Fatalf("err = %v, want one naming --pid", err)
	}
}

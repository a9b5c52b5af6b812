package decisionlog

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// TestLineNamesTheBundlesOfItsGeneration: with Options.Bundles, a line
// carries the OPA bundles of the set that decided, as OPA's decision logs
// do; a set without bundles writes no field.
func TestLineNamesTheBundlesOfItsGeneration(t *testing.T) {
	var buf bytes.Buffer
	bundles := map[string]string{"zeta": "z1", "fleet": `v"2`}
	l := New(&buf, Options{Bundles: func(uint64) map[string]string { return bundles }})
	l.Observe(context.Background(), deniedRecord())
	bundles = nil
	l.Observe(context.Background(), deniedRecord())
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var first map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	got, _ := json.Marshal(first["bundles"])
	if string(got) != `{"fleet":{"revision":"v\"2"},"zeta":{"revision":"z1"}}` {
		t.Errorf("bundles %s", got)
	}
	if bytes.Contains(lines[1], []byte(`"bundles"`)) {
		t.Errorf("a set without bundles names some: %s", lines[1])
	}
}

package policy

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
)

// countingRules deny every input, with a message that counts the
// evaluations: a remembered decision keeps the count it was made with.
func countingRules(extra string) fstest.MapFS {
	return fstest.MapFS{"count/count.rego": {Data: []byte(`package hardened.rules.count

deny contains {"rule": "T003", "severity": "error", "title": "t", "message": sprintf("T003: %v", [input.name]), "fix": {"summary": "s"}} if true
` + extra)}}
}

func TestEqualInputsAreDecidedOnce(t *testing.T) {
	e, err := New(context.Background(), Sources{Library: library(), Rules: countingRules("")})
	if err != nil {
		t.Fatal(err)
	}
	c := e.current.Load()
	if c.decisions == nil {
		t.Fatal("a deterministic set has no decision cache")
	}
	first := eval(t, e, map[string]any{"name": "app-1", "n": 1})
	// Built anew, equal in value: the remembered decision.
	again := eval(t, e, map[string]any{"name": "app-1", "n": 1})
	if len(again.Deny) != 1 || again.Deny[0].Message != first.Deny[0].Message {
		t.Fatalf("repeated input: %+v, first %+v", again, first)
	}
	if _, ok := c.decisions.get(ast.MustInterfaceToValue(map[string]any{"name": "app-1", "n": 1})); !ok {
		t.Error("the decision of an evaluated input is not remembered")
	}
	// Callers may change what they get: the remembered result stays.
	again.Deny[0] = Violation{}
	if r := eval(t, e, map[string]any{"name": "app-1", "n": 1}); r.Deny[0].Rule != "T003" {
		t.Errorf("a caller's change leaked into the cache: %+v", r)
	}
	// Another replica differs in its name only: its own decision.
	if r := eval(t, e, map[string]any{"name": "app-2", "n": 1}); r.Deny[0].Message != "T003: app-2" {
		t.Errorf("different input got %q", r.Deny[0].Message)
	}
	if r := eval(t, e, map[string]any{"name": "app-1", "n": 2}); r.Deny[0].Message != "T003: app-1" {
		t.Errorf("different input got %q", r.Deny[0].Message)
	}
}

// A reload brings its own, empty cache: nothing decided under the old
// policies is reused under the new ones.
func TestReloadForgetsDecisions(t *testing.T) {
	e, err := New(context.Background(), Sources{Library: library(), Rules: countingRules("")})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"name": "app-1"}
	if r := eval(t, e, in); len(r.Deny) != 1 {
		t.Fatalf("before reload: %+v", r)
	}
	if err := e.Load(context.Background(), Sources{Library: library(), Rules: rules()}); err != nil {
		t.Fatal(err)
	}
	if r := eval(t, e, in); len(r.Deny) != 0 {
		t.Errorf("after reload, the old set's decision came back: %+v", r)
	}
}

// A set whose rules read the clock (or the network, or randomness) can
// decide the same input differently: it remembers nothing.
func TestNondeterministicRulesAreNotRemembered(t *testing.T) {
	for name, extra := range map[string]string{
		"time.now_ns": "\nwarn contains {\"rule\": \"T004\", \"severity\": \"warning\", \"title\": \"t\", \"message\": sprintf(\"T004: %d\", [time.now_ns()]), \"fix\": {}} if true\n",
		"nested":      "\nwarn contains {\"rule\": \"T004\", \"severity\": \"warning\", \"title\": \"t\", \"message\": \"T004: odd\", \"fix\": {}} if abs(rand.intn(\"x\", 10)) > 4\n",
	} {
		t.Run(name, func(t *testing.T) {
			e, err := New(context.Background(), Sources{Library: library(), Rules: countingRules(extra)})
			if err != nil {
				t.Fatal(err)
			}
			if e.current.Load().decisions != nil {
				t.Error("a set calling a non-deterministic built-in has a decision cache")
			}
			if r := eval(t, e, map[string]any{"name": "a"}); len(r.Deny) != 1 {
				t.Errorf("result = %+v", r)
			}
		})
	}
}

// The cache holds at most decisionCacheSize decisions, forgetting the
// oldest first, and entries whose inputs share a hash stay apart.
func TestDecisionCacheIsBounded(t *testing.T) {
	c := &decisionCache{entries: map[int][]cacheEntry{}}
	in := func(i int) ast.Value { return ast.MustInterfaceToValue(map[string]any{"name": fmt.Sprint("app-", i)}) }
	res := func(i int) Result { return Result{Deny: []Violation{{Rule: fmt.Sprint(i)}}} }
	for i := range decisionCacheSize + 10 {
		c.put(in(i), res(i))
	}
	n := 0
	for _, es := range c.entries {
		n += len(es)
	}
	if n != decisionCacheSize || c.size != decisionCacheSize {
		t.Fatalf("%d entries (size %d), want %d", n, c.size, decisionCacheSize)
	}
	for i := range 10 {
		if _, ok := c.get(in(i)); ok {
			t.Errorf("input %d, among the oldest, is still remembered", i)
		}
	}
	for i := 10; i < decisionCacheSize+10; i++ {
		if r, ok := c.get(in(i)); !ok || r.Deny[0].Rule != fmt.Sprint(i) {
			t.Fatalf("input %d: %+v %v", i, r, ok)
		}
	}
	// Two inputs forced into one bucket: each finds its own result.
	c = &decisionCache{entries: map[int][]cacheEntry{}}
	a, b := in(1), in(2)
	c.entries[a.Hash()] = []cacheEntry{{input: b, res: res(2)}}
	if _, ok := c.get(a); ok {
		t.Error("an input matched another one by hash alone")
	}
}

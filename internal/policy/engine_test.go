package policy

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/testtree"
)

const mainModule = `package hardened.main

deny contains v if some v in data.hardened.rules[_].deny

warn contains v if some v in data.hardened.rules[_].warn

decision := {"deny": deny, "warn": warn}
`

func library() fstest.MapFS {
	return fstest.MapFS{"main.rego": {Data: []byte(mainModule)}}
}

// rules is a tiny rule family that denies images the catalog lists.
func rules() fstest.MapFS {
	return fstest.MapFS{
		"images/images.rego": {Data: []byte(`package hardened.rules.images

deny contains {"rule": "T001", "severity": "error", "title": "t", "message": sprintf("T001: %s is listed", [input.image]), "fix": {"summary": "use another"}} if {
	input.image in data.catalog.denied
}
`)},
		"images/images_test.rego": {Data: []byte("package hardened.rules.images\n\ntest_broken if this_does_not_compile(\n")},
		"catalog/data.json":       {Data: []byte(`{"denied": ["bad:1"]}`)},
	}
}

func eval(t *testing.T, e *Engine, input map[string]any) Result {
	t.Helper()
	r, err := e.Evaluate(context.Background(), ast.MustInterfaceToValue(input))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEngineEvaluatesAndSkipsTests(t *testing.T) {
	e, err := New(context.Background(), Sources{Library: library(), Rules: rules()})
	if err != nil {
		t.Fatalf("a broken _test.rego must not be compiled: %v", err)
	}
	r := eval(t, e, map[string]any{"image": "bad:1"})
	if len(r.Deny) != 1 || r.Deny[0].Rule != "T001" || r.Deny[0].Message != "T001: bad:1 is listed" || r.Deny[0].Fix.Summary != "use another" {
		t.Fatalf("result = %+v", r)
	}
	if r := eval(t, e, map[string]any{"image": "good:1"}); len(r.Deny) != 0 {
		t.Fatalf("good image denied: %+v", r)
	}
	if e.HasRequestRules() {
		t.Error("no hardened.requests package, yet request rules are on")
	}
}

func TestOverridesReplaceAndAdd(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"catalog/data.json": `{"denied": ["good:1"]}`,
		"extra/extra.rego": `package hardened.rules.extra

warn contains {"rule": "T002", "severity": "warning", "title": "t", "message": "T002: always", "fix": {"summary": "none"}} if true
`,
		".hidden/x.rego": "not rego at all",
		"README.md":      "ignored",
	})
	e, err := New(context.Background(), Sources{Library: library(), Rules: rules(), Overrides: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if r := eval(t, e, map[string]any{"image": "bad:1"}); len(r.Deny) != 0 {
		t.Errorf("the override catalog must replace the shipped one: %+v", r.Deny)
	}
	r := eval(t, e, map[string]any{"image": "good:1"})
	if len(r.Deny) != 1 || len(r.Warn) != 1 || r.Warn[0].Rule != "T002" {
		t.Errorf("result = %+v", r)
	}
}

func TestLoadErrorsNameTheFileAndKeepTheOldSet(t *testing.T) {
	e, err := New(context.Background(), Sources{Library: library(), Rules: rules()})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		files map[string]string
		want  string
	}{
		"syntax":        {map[string]string{"bad/bad.rego": "package x\n\ndeny contains if {"}, "bad/bad.rego"},
		"unsafe":        {map[string]string{"u/u.rego": "package hardened.rules.u\n\ndeny contains x if { y := 1 }\n"}, "u/u.rego"},
		"data not JSON": {map[string]string{"catalog/data.json": "{"}, "catalog/data.json"},
		"data array":    {map[string]string{"catalog/data.json": "[]"}, "top level must be a JSON object"},
		"data clash":    {map[string]string{"data.json": `{"catalog": 1}`}, "defined twice"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := e.Load(context.Background(), Sources{Library: library(), Rules: rules(), Overrides: []string{testtree.Write(t, tt.files)}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one naming %q", err, tt.want)
			}
			if r := eval(t, e, map[string]any{"image": "bad:1"}); len(r.Deny) != 1 {
				t.Fatalf("a failed load replaced the working set: %+v", r)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if err := e.Load(context.Background(), Sources{Library: library(), Rules: rules(), Overrides: []string{missing}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing --policy directory: %v", err)
	}
}

func TestMalformedDecisionsAreErrors(t *testing.T) {
	for name, module := range map[string]string{
		"no main":       "package hardened.other\n\nx := 1\n",
		"no rule ID":    "package hardened.main\n\ndecision := {\"deny\": [{\"message\": \"m\"}], \"warn\": []}\n",
		"wrong shape":   "package hardened.main\n\ndecision := {\"deny\": \"everything\"}\n",
		"message typed": "package hardened.main\n\ndecision := {\"deny\": [{\"rule\": \"X\", \"message\": 5}], \"warn\": []}\n",
	} {
		t.Run(name, func(t *testing.T) {
			e, err := New(context.Background(), Sources{Library: fstest.MapFS{"main.rego": {Data: []byte(module)}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Evaluate(context.Background(), ast.NewObject()); err == nil {
				t.Fatal("a malformed decision must be an error, so the request is denied")
			}
		})
	}
}

// Evaluations never fail, block or see a mix of two sets while sets are
// swapped under them: each sees the old set or the new one, whole.
func TestInstallWhileEvaluating(t *testing.T) {
	ctx := context.Background()
	set := func(msg string) *Validated {
		dir := testtree.Write(t, map[string]string{"acme/acme.rego": `package hardened.rules.acme

deny contains {"rule": "T009", "severity": "error", "title": "t", "message": "` + msg + `", "fix": {"summary": "s"}} if true
`})
		v, err := Validate(ctx, Sources{Library: library(), Overrides: []string{dir}})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := set("a"), set("b")
	e := NewValidated(a)
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var evaluations atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := e.Evaluate(ctx, ast.NewObject())
				if err == nil && (len(r.Deny) != 1 || (r.Deny[0].Message != "a" && r.Deny[0].Message != "b")) {
					err = fmt.Errorf("result %+v is neither set's", r)
				}
				if err != nil {
					errs <- err
					return
				}
				evaluations.Add(1)
			}
		})
	}
	for i := range 500 {
		if i%2 == 0 {
			e.Install(b)
		} else {
			e.Install(a)
		}
		// Let evaluations run between any two swaps, unless they stopped
		// on an error.
		for n := evaluations.Load(); evaluations.Load() == n && len(errs) == 0; {
			runtime.Gosched()
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if evaluations.Load() == 0 {
		t.Fatal("no evaluation ran during the swaps")
	}
	if e.Generation() < 500 {
		t.Errorf("generation %d after 500 installs", e.Generation())
	}
	t.Logf("%d evaluations across 500 swaps", evaluations.Load())
}

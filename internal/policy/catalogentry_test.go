package policy

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/hardened-authz/hardened-authz/policies"
	hrego "github.com/hardened-authz/hardened-authz/rego"
)

// shipped compiles the shipped library and rules.
func shipped(t *testing.T) *Engine {
	t.Helper()
	e, err := New(context.Background(), Sources{Library: hrego.FS, Rules: policies.FS})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The entry handed to the rules is the one they would derive: for
// generated repositories by exact tag, by the dev and all fallbacks, for
// digest-only references, for the hand-written layers' exact and prefix
// keys, for Docker Hub mirrors and for images the catalog does not have.
func TestGivenEntryIsTheDerivedOne(t *testing.T) {
	e := shipped(t)
	c := e.current.Load()
	if c.entries == nil {
		t.Fatal("the shipped set has no catalog entry memo")
	}
	derive, err := rego.New(append([]func(*rego.Rego){rego.Query("data.hardened.lib.image.entry")}, c.opts...)...).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defined := 0
	for _, ref := range [][2]string{
		{"dhi.io/node", "25-debian13-dev"},
		{"dhi.io/node", "no-such-tag-dev"},
		{"dhi.io/node", "no-such-tag"},
		{"dhi.io/node", ""},
		{"dhi.io/curl", "8-debian13-dev"},
		{"docker.io/acme/dhi-node", "25-debian13-dev"},
		{"cgr.dev/acme/python", "latest"},
		{"gcr.io/distroless/nodejs22-debian12", "debug"},
		{"gcr.io/distroless/nodejs22-debian12", "nonroot"},
		{"gcr.io/distroless/static-debian12", ""},
		{"docker.io/library/busybox", "latest"},
		{"", ""},
	} {
		doc := map[string]any{"image": map[string]any{"repository": ref[0], "tag": ref[1], "ref": ref[0] + ":" + ref[1]}}
		in := ast.MustInterfaceToValue(doc)
		given := c.entries.with(context.Background(), in)
		if given == in {
			t.Fatalf("%v: no entry handed over", ref)
		}
		if in.(ast.Object).Get(imageKey).Value.(ast.Object).Get(catalogKey) != nil {
			t.Fatalf("%v: the caller's input was modified", ref)
		}
		want := evalJSON(t, derive, in)
		if got := evalJSON(t, derive, given); got != want {
			t.Errorf("%v: given entry %s, derived %s", ref, got, want)
		}
		if want != "undefined" {
			defined++
		}
	}
	// Most of the references above are in the catalog; busybox and the
	// empty reference are not.
	if defined < 9 {
		t.Errorf("only %d references have an entry: the comparison proves little", defined)
	}
}

// A document that already carries input.image.catalog keeps it, and one
// without an image gets nothing.
func TestEntryIsNotReplacedOrInvented(t *testing.T) {
	m := shipped(t).current.Load().entries
	own := ast.MustInterfaceToValue(map[string]any{"image": map[string]any{"repository": "dhi.io/node", "tag": "25", "catalog": map[string]any{}}})
	if got := m.with(context.Background(), own); got != own {
		t.Errorf("a given catalog value was replaced: %v", got)
	}
	none := ast.MustInterfaceToValue(map[string]any{"action": "plugin.disable"})
	if got := m.with(context.Background(), none); got != none {
		t.Errorf("a document without an image got one: %v", got)
	}
}

// A set whose image library has no derived_entry (replaced by a team's
// own) gets no memo, and decides with its own rules.
func TestReplacedImageLibraryHasNoMemo(t *testing.T) {
	e, err := New(context.Background(), Sources{Library: library(), Rules: rules()})
	if err != nil {
		t.Fatal(err)
	}
	if e.current.Load().entries != nil {
		t.Fatal("a set without data.hardened.lib.image.derived_entry has a memo")
	}
}

// The memo forgets everything at its bound rather than grow.
func TestEntryMemoIsBounded(t *testing.T) {
	m := shipped(t).current.Load().entries
	for i := range entryMemoSize + 10 {
		m.lookup(context.Background(), "example.com/app", strconv.Itoa(i))
	}
	if n := len(m.entries); n > entryMemoSize {
		t.Fatalf("%d entries remembered, bound %d", n, entryMemoSize)
	}
}

func evalJSON(t *testing.T, q rego.PreparedEvalQuery, in ast.Value) string {
	t.Helper()
	rs, err := q.Eval(context.Background(), rego.EvalParsedInput(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		return "undefined"
	}
	b, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

package policy

import (
	"context"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// EntryQuery derives the catalog entry of input.image from its repository
// and tag (rego/lib/image.rego).
const EntryQuery = "data.hardened.lib.image.derived_entry"

// entryMemoSize bounds the catalog entries one policy set remembers: a
// host runs far fewer distinct images, and an entry is a few hundred bytes.
const entryMemoSize = 1024

// entryMemo works out the catalog entry of an image once per repository
// and tag, and hands it to every decision about that image as
// input.image.catalog, so that the rules do not derive it again on every
// create: the derivation (the generated facts rebuilt as an object, the
// hand-written layers searched by tag glob) was a quarter of an evaluated
// create.
//
// The entry is a function of the repository, the tag and the set's data
// (rego/lib/image.rego says so where it reads input.image.catalog), so it
// belongs to one compiled set, as the decision cache does: a reload starts
// with an empty memo.
type entryMemo struct {
	query rego.PreparedEvalQuery
	mu    sync.Mutex
	// entries maps repository and tag to the input.image.catalog value:
	// {"entry": {...}}, or {} when the image has no entry.
	entries map[[2]string]*ast.Term
}

// newEntryMemo prepares EntryQuery on the set's own compiler, so nothing is
// compiled twice. It returns nil when the set has no such rule (its
// rego/lib/image.rego was replaced by one without it): its rules then work
// the entry out themselves, or do without.
func newEntryMemo(ctx context.Context, compiler *ast.Compiler, opts []func(*rego.Rego)) *entryMemo {
	if compiler == nil || len(compiler.GetRulesExact(ast.MustParseRef(EntryQuery))) == 0 {
		return nil
	}
	q := append([]func(*rego.Rego){rego.Query(EntryQuery), rego.Compiler(compiler)}, opts...)
	pq, err := rego.New(q...).PrepareForEval(ctx)
	if err != nil {
		return nil
	}
	return &entryMemo{query: pq, entries: make(map[[2]string]*ast.Term)}
}

var (
	imageKey   = ast.StringTerm("image")
	catalogKey = ast.StringTerm("catalog")
	entryKey   = ast.StringTerm("entry")
	repoKey    = ast.StringTerm("repository")
	tagKey     = ast.StringTerm("tag")
)

// with returns input with input.image.catalog set, or input itself when it
// has no image, already carries a catalog value, or the entry cannot be
// worked out (the rules then derive it). input is never modified: the
// caller logs it as it was.
func (m *entryMemo) with(ctx context.Context, input ast.Value) ast.Value {
	if m == nil {
		return input
	}
	top, ok := input.(ast.Object)
	if !ok {
		return input
	}
	imgTerm := top.Get(imageKey)
	if imgTerm == nil {
		return input
	}
	img, ok := imgTerm.Value.(ast.Object)
	if !ok || img.Get(catalogKey) != nil {
		return input
	}
	repo, _ := stringAt(img, repoKey)
	tag, _ := stringAt(img, tagKey)
	catalog := m.lookup(ctx, repo, tag)
	if catalog == nil {
		return input
	}
	newImg := ast.NewObject()
	img.Foreach(func(k, v *ast.Term) { newImg.Insert(k, v) })
	newImg.Insert(catalogKey, catalog)
	out := ast.NewObject()
	top.Foreach(func(k, v *ast.Term) {
		if ast.Compare(k, imageKey) == 0 {
			v = ast.NewTerm(newImg)
		}
		out.Insert(k, v)
	})
	return out
}

func stringAt(o ast.Object, k *ast.Term) (string, bool) {
	t := o.Get(k)
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return string(s), ok
}

// lookup returns input.image.catalog for repo and tag, evaluating
// EntryQuery the first time; nil if the evaluation fails.
func (m *entryMemo) lookup(ctx context.Context, repo, tag string) *ast.Term {
	key := [2]string{repo, tag}
	m.mu.Lock()
	t, ok := m.entries[key]
	m.mu.Unlock()
	if ok {
		return t
	}
	in := ast.NewObject(ast.Item(imageKey, ast.ObjectTerm(
		ast.Item(repoKey, ast.StringTerm(repo)),
		ast.Item(tagKey, ast.StringTerm(tag)),
	)))
	rs, err := m.query.Eval(ctx, rego.EvalParsedInput(in))
	if err != nil {
		return nil
	}
	t = ast.ObjectTerm()
	if len(rs) > 0 && len(rs[0].Expressions) > 0 {
		v, err := ast.InterfaceToValue(rs[0].Expressions[0].Value)
		if err != nil {
			return nil
		}
		t = ast.ObjectTerm(ast.Item(entryKey, ast.NewTerm(v)))
	}
	m.mu.Lock()
	// Forgetting everything at the bound keeps the memo simple; a host
	// with more distinct images than that pays one derivation per image
	// again, never a wrong entry.
	if len(m.entries) >= entryMemoSize {
		clear(m.entries)
	}
	m.entries[key] = t
	m.mu.Unlock()
	return t
}

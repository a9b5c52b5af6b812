package policy

import (
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// decisionCacheSize bounds the decisions one policy set remembers. A
// remembered create (its input as Rego values and its result) is about
// 11 KB: 256 of them hold under 3 MB, and cover the creates a busy host
// repeats (compose projects brought down and up again, CI jobs, restart
// loops).
const decisionCacheSize = 256

// decisionCache remembers the results of a policy set by input. It belongs
// to one compiled set: a reload compiles a new set with an empty cache, so
// a result is never reused under policies other than those that produced
// it. An entry is found by the input's hash and matched by full equality of
// the input value, so two inputs that merely collide never share a result.
// A nil cache remembers nothing (a set with non-deterministic rules).
type decisionCache struct {
	mu      sync.Mutex
	entries map[int][]cacheEntry
	// order is the insertion order of the hashes of entries, oldest first,
	// for eviction: a ring of decisionCacheSize slots.
	order [decisionCacheSize]int
	next  int
	size  int
}

type cacheEntry struct {
	input ast.Value
	res   Result
}

// newDecisionCache returns a cache for the set compiler compiled, or nil
// when a rule of the set calls a non-deterministic built-in (time.now_ns,
// http.send, rand.intn, …): its result may change for the same input.
func newDecisionCache(compiler *ast.Compiler) *decisionCache {
	if compiler == nil || callsNondeterministic(compiler) {
		return nil
	}
	return &decisionCache{entries: make(map[int][]cacheEntry, decisionCacheSize)}
}

// callsNondeterministic reports whether a module of compiler calls a
// built-in that OPA marks as non-deterministic.
func callsNondeterministic(compiler *ast.Compiler) bool {
	found := false
	for _, m := range compiler.Modules {
		ast.WalkExprs(m, func(x *ast.Expr) bool {
			if found {
				return true
			}
			if x.IsCall() {
				found = nondeterministic(x.Operator())
			}
			// Calls nested in terms (f(g(x)) == y) are expressions' terms.
			ast.WalkTerms(x, func(t *ast.Term) bool {
				if c, ok := t.Value.(ast.Call); ok && len(c) > 0 {
					if r, ok := c[0].Value.(ast.Ref); ok && nondeterministic(r) {
						found = true
					}
				}
				return found
			})
			return found
		})
		if found {
			return true
		}
	}
	return false
}

func nondeterministic(op ast.Ref) bool {
	name := op.String()
	if deterministic[name] {
		return false
	}
	b, ok := ast.BuiltinMap[name]
	return ok && b.Nondeterministic
}

// deterministic are built-ins OPA marks non-deterministic that depend on
// nothing but their arguments and the compiled set: the annotations of the
// calling rule (which the compiler usually folds into a constant, as it
// does for every violation.new(rego.metadata.rule(), …)) and a schema check.
var deterministic = map[string]bool{
	"rego.metadata.rule":  true,
	"rego.metadata.chain": true,
	"json.verify_schema":  true,
}

// get returns the result remembered for input, if any. The result's
// slices are copies: callers may append to or reorder them.
func (c *decisionCache) get(input ast.Value) (Result, bool) {
	if c == nil || input == nil {
		return Result{}, false
	}
	h := input.Hash()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries[h] {
		if e.input.Compare(input) == 0 {
			return Result{Deny: slices.Clone(e.res.Deny), Warn: slices.Clone(e.res.Warn), Input: e.input}, true
		}
	}
	return Result{}, false
}

// put remembers res for input, evicting the oldest entry when full.
func (c *decisionCache) put(input ast.Value, res Result) {
	if c == nil || input == nil {
		return
	}
	h := input.Hash()
	res = Result{Deny: slices.Clone(res.Deny), Warn: slices.Clone(res.Warn)}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries[h] {
		if e.input.Compare(input) == 0 {
			return // another decision of the same input got here first
		}
	}
	if c.size == decisionCacheSize {
		old := c.order[c.next]
		if es := c.entries[old]; len(es) > 1 {
			c.entries[old] = es[1:]
		} else {
			delete(c.entries, old)
		}
		c.size--
	}
	c.entries[h] = append(c.entries[h], cacheEntry{input: input, res: res})
	c.order[c.next] = h
	c.next = (c.next + 1) % decisionCacheSize
	c.size++
}

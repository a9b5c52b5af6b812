// Package policy compiles Rego policies once and evaluates them many times.
//
// The compiled set sits behind an atomic pointer: a new set is compiled and
// prepared completely before it replaces the old one, so a decision never
// sees a half-loaded policy and never waits for a compilation.
package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// Query is the single entry point every decision evaluates. rego/main.rego
// aggregates the deny and warn sets of every rule family into it.
const Query = "data.hardened.main.decision"

// requestRulesPackage is the package prefix of rules that inspect every API
// request, not only container creates and plugin management. Only when a
// policy set has such rules do ordinary requests leave the fast path.
const requestRulesPackage = "data.hardened.requests"

// Severities of a violation.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Violation is one rule's finding, as the rules build it.
type Violation struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Message  string `json:"message"`
	Fix      Fix    `json:"fix"`
	// Locations are the keys a compose file sets to cause the violation,
	// each a path under services.<service> (["healthcheck", "test"]), most
	// precise first. `authz check` reports the first one the file has.
	Locations [][]string `json:"locations,omitempty"`
}

// Fix says how to resolve a violation.
type Fix struct {
	Summary     string `json:"summary"`
	Compose     string `json:"compose,omitempty"`
	DockerRun   string `json:"docker_run,omitempty"`
	Alternative string `json:"alternative,omitempty"`
	// Actions are the machine-applicable steps of the fix, which
	// `authz check --fix` applies to compose files.
	Actions []Action `json:"actions,omitempty"`
}

// Action kinds.
const (
	// ActionAddSidecar adds a healthcheck sidecar next to Service and
	// removes (or disables) Service's own healthcheck.
	ActionAddSidecar = "add_sidecar"
	// ActionRepointDependsOn changes Service's depends_on entry From into
	// To, keeping its condition.
	ActionRepointDependsOn = "repoint_depends_on"
	// ActionSetEntrypoint sets Service's entrypoint to Entrypoint, removes
	// its command (the new process takes no other arguments) and, when
	// Image is set, changes its image to Image.
	ActionSetEntrypoint = "set_entrypoint"
)

// Action is one edit of a compose file that resolves a violation.
type Action struct {
	// Op is ActionAddSidecar, ActionRepointDependsOn or
	// ActionSetEntrypoint.
	Op string `json:"op"`
	// Service is the compose service the edit starts from: the app that
	// gets a sidecar, or the service whose depends_on changes.
	Service string `json:"service"`

	// Name, Image, Test, the timings and MemLimit describe the sidecar
	// service to add (add_sidecar). Timings are compose durations ("30s").
	// Image is also the image set_entrypoint moves the service to, when
	// its own lacks the new entrypoint's program.
	Name        string   `json:"name,omitempty"`
	Image       string   `json:"image,omitempty"`
	Test        []string `json:"test,omitempty"`
	Interval    string   `json:"interval,omitempty"`
	Timeout     string   `json:"timeout,omitempty"`
	StartPeriod string   `json:"start_period,omitempty"`
	Retries     int      `json:"retries,omitempty"`
	MemLimit    string   `json:"mem_limit,omitempty"`
	// AppHealthcheck says what to do with Service's own healthcheck:
	// "remove" it (it is the service's own) or "disable" it (it is
	// inherited from the image, so only `disable: true` turns it off).
	AppHealthcheck string `json:"app_healthcheck,omitempty"`

	// From and To are the depends_on entries (repoint_depends_on).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`

	// Entrypoint is the service's new entrypoint (set_entrypoint).
	Entrypoint []string `json:"entrypoint,omitempty"`
}

// Result is the outcome of one evaluation.
type Result struct {
	Deny []Violation `json:"deny"`
	Warn []Violation `json:"warn"`
	// RuleModes are the per-rule enforcement modes of the policy set that
	// produced this result (see Engine.RuleModes). They travel with the
	// result so that a decision applies the modes of the very generation
	// it was evaluated under, even while a reload swaps the set.
	RuleModes RuleModes `json:"-"`
	// Input is set when the decision cache answered: the input it was
	// remembered under, equal to the one given. Callers that encode the
	// input (the decision log) can reuse their work for it; it is shared
	// and must not be changed.
	Input ast.Value `json:"-"`
}

// Engine evaluates the current policy set.
type Engine struct {
	current     atomic.Pointer[compiled]
	generations atomic.Uint64
}

type compiled struct {
	query        rego.PreparedEvalQuery
	requestRules bool
	files        []string
	ruleModes    RuleModes
	generation   uint64
	// revision fingerprints the files the set was built from (revision).
	revision string
	// opts rebuild the set for ad-hoc queries (Query), which tools use.
	opts []func(*rego.Rego)
	// decisions remembers this set's results by input (nil: the set has
	// non-deterministic rules, whose results are never reused).
	decisions *decisionCache
	// entries hands each evaluation its image's catalog entry, worked out
	// once per repository and tag (nil: the set cannot derive one alone).
	entries *entryMemo
}

// New compiles the sources and returns an engine serving them.
func New(ctx context.Context, src Sources) (*Engine, error) {
	e := &Engine{}
	if err := e.Load(ctx, src); err != nil {
		return nil, err
	}
	return e, nil
}

// Load compiles and prepares src, then swaps it in. On error the engine keeps
// serving the set it had.
func (e *Engine) Load(ctx context.Context, src Sources) error {
	c, err := compile(ctx, src)
	if err != nil {
		return err
	}
	c.generation = e.generations.Add(1)
	e.current.Store(c)
	return nil
}

// Generation identifies the current policy set: it changes with every
// Load, so a decision remembered under one generation is known to be stale
// under the next.
func (e *Engine) Generation() uint64 { return e.current.Load().generation }

// Revision fingerprints the current set's files (see Validated.Revision):
// decision records and metrics carry it, so an operator can tell which
// edit of the policies decided a request.
func (e *Engine) Revision() string { return e.current.Load().revision }

// Files lists the policy files of the current set, for logs.
func (e *Engine) Files() []string { return e.current.Load().files }

// HasRequestRules reports whether the current set has rules under
// data.hardened.requests, which must see every API request.
func (e *Engine) HasRequestRules() bool { return e.current.Load().requestRules }

// RuleModes are the per-rule enforcement modes of the current set, read
// from data.enforcement.rules once when the set was compiled.
func (e *Engine) RuleModes() RuleModes { return e.current.Load().ruleModes }

// Evaluate runs the decision query on input, the document as a Rego value
// (input.Document.Value builds it without a JSON round trip). The rules
// are deterministic functions of the input and the set's data, so an input
// equal to one the current set already decided gets that decision again
// without an evaluation (see decisionCache).
func (e *Engine) Evaluate(ctx context.Context, input ast.Value) (Result, error) {
	c := e.current.Load()
	if res, ok := c.decisions.get(input); ok {
		res.RuleModes = c.ruleModes
		return res, nil
	}
	rs, err := c.query.Eval(ctx, rego.EvalParsedInput(c.entries.with(ctx, input)))
	if err != nil {
		return Result{}, fmt.Errorf("evaluate %s: %w", Query, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Result{}, errors.New(Query + " is undefined: the policy set has no hardened.main package (is rego/main.rego overridden?)")
	}
	res, err := decodeResult(rs[0].Expressions[0].Value)
	if err != nil {
		return Result{RuleModes: c.ruleModes}, err
	}
	c.decisions.put(input, res)
	res.RuleModes = c.ruleModes
	return res, nil
}

// Query evaluates any query against the current set, compiling it on the
// spot. It is for tools such as `authz image`, never for decisions.
func (e *Engine) Query(ctx context.Context, query string, input ast.Value) (any, error) {
	c := e.current.Load()
	opts := append([]func(*rego.Rego){rego.Query(query), rego.ParsedInput(input)}, c.opts...)
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", query, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	return rs[0].Expressions[0].Value, nil
}

// decodeResult turns the query's value into typed violations. The JSON
// round trip is the strict, boring way to validate what a custom rule built.
// It is also the one place every decision passes, so it is where the texts
// people read lose the credentials they quote (Violation.redactSecrets).
func decodeResult(v any) (Result, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return Result{}, fmt.Errorf("decode %s: %w", Query, err)
	}
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return Result{}, fmt.Errorf("%s is not {\"deny\": [...], \"warn\": [...]} of violation objects: %w", Query, err)
	}
	for _, vs := range [][]Violation{r.Deny, r.Warn} {
		for i := range vs {
			if vs[i].Rule == "" {
				return Result{}, fmt.Errorf("a violation has no \"rule\" ID (message %q): build violations with the library constructor", redactText(vs[i].Message))
			}
			vs[i].redactSecrets()
		}
	}
	return r, nil
}

func compile(ctx context.Context, src Sources) (*compiled, error) {
	files, err := src.collect()
	if err != nil {
		return nil, err
	}
	if src.TypeCheckedShipped && len(src.Overrides) == 0 && len(src.Layers) == 0 {
		return compileFiles(ctx, files, nil)
	}
	ss, err := src.schemas()
	if err != nil {
		return nil, err
	}
	return compileFiles(ctx, files, ss)
}

// compileFiles prepares the decision query from files already read, so
// that Validate compiles, tests and fingerprints the very same bytes.
func compileFiles(ctx context.Context, files []file, ss *ast.SchemaSet) (*compiled, error) {
	var (
		opts  = []func(*rego.Rego){rego.Query(Query)}
		names []string
		req   bool
	)
	// The data files (the catalog) are decoded while the modules are
	// parsed on every core, so that the compiler, which needs both, waits
	// for about the longer of the two rather than their sum: the start-up
	// of every `authz check`. Errors are reported as a sequential loop
	// would: that of the first file that fails.
	merged := make(chan dataResult, 1)
	go func() { merged <- mergeAll(files) }()
	modules, parseErrs := parseModules(files)
	d := <-merged
	for i, f := range files {
		switch f.kind {
		case kindModule:
			if parseErrs[i] != nil {
				return nil, parseErrs[i]
			}
			m := modules[i]
			if m.Package.Path.HasPrefix(ast.MustParseRef(requestRulesPackage)) {
				req = true
			}
			opts = append(opts, rego.ParsedModule(m))
		case kindData:
			if i == d.failed {
				return nil, d.err
			}
		default: // tests: only Validate compiles them
			continue
		}
		names = append(names, f.name)
	}
	data := d.data
	// Keep the data as AST values: with plain Go values the store converts
	// the whole catalog on every read, which dominated a decision's cost.
	store := inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
	opts = append(opts, rego.Store(store))
	// With the input's schema, a rule that reads a field the input does
	// not have (input.container.helthcheck) fails here, at load, instead
	// of never matching: for a deny rule, a silent allow.
	if ss != nil {
		opts = append(opts, rego.Schemas(ss))
	}
	// The hook hands back the compiler the prepared query uses, so the
	// rule modes are read from the compiled set without compiling it twice.
	var compiler *ast.Compiler
	hook := rego.CompilerHook(func(c *ast.Compiler) { compiler = c })
	pq, err := rego.New(append(slices.Clip(opts), hook)...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compile policies: %w", err)
	}
	modes, err := readRuleModes(ctx, compiler, store)
	if err != nil {
		return nil, err
	}
	return &compiled{
		query: pq, requestRules: req, files: names, ruleModes: modes, opts: opts[1:], revision: revision(files),
		decisions: newDecisionCache(compiler),
		entries:   newEntryMemo(ctx, compiler, []func(*rego.Rego){rego.Store(store)}),
	}, nil
}

// parseModule parses a policy or test file as the engine compiles it:
// Rego v1, with METADATA annotations (rule IDs, the input schema).
func parseModule(f file) (*ast.Module, error) {
	m, err := ast.ParseModuleWithOpts(f.name, string(f.content), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
	if err != nil {
		return nil, fmt.Errorf("parse policy: %w", err)
	}
	return m, nil
}

// buildData merges every data.json at its directory's path.
func buildData(files []file) (map[string]any, error) {
	d := mergeAll(files)
	return d.data, d.err
}

// dataResult is the data of a set, or the error of files[failed].
type dataResult struct {
	data   map[string]any
	err    error
	failed int
}

// mergeAll merges the data files of files in order, stopping at the
// first that fails.
func mergeAll(files []file) dataResult {
	data := map[string]any{}
	for i, f := range files {
		if f.kind == kindData {
			if err := mergeData(data, f); err != nil {
				return dataResult{err: err, failed: i}
			}
		}
	}
	return dataResult{data: data, failed: -1}
}

// parseModules parses the policy modules of files (not their tests) on
// every CPU. The results are indexed as files.
func parseModules(files []file) ([]*ast.Module, []error) {
	modules := make([]*ast.Module, len(files))
	errs := make([]error, len(files))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				if files[i].kind == kindModule {
					modules[i], errs[i] = parseModule(files[i])
				}
			}
		})
	}
	wg.Wait()
	return modules, errs
}

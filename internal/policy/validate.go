package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestTimeout bounds one Rego test, as `opa test --timeout` does: a test
// that loops is an error, not a reload that never ends.
const TestTimeout = 5 * time.Second

// Test outcomes, as `opa test` prints them.
const (
	OutcomePass    = "PASS"
	OutcomeFail    = "FAIL"
	OutcomeError   = "ERROR"
	OutcomeSkipped = "SKIPPED"
)

// TestResult is the outcome of one Rego test.
type TestResult struct {
	// Name is the test's full path, data.<package>.test_<name>.
	Name     string
	File     string
	Line     int
	Outcome  string
	Error    string
	Duration time.Duration
	// Shipped marks the tests of the embedded set, which run once per
	// process (see Validate).
	Shipped bool
}

// Problem is one reason a policy set was rejected, at a file and line
// when the compiler or the test says where.
type Problem struct {
	File    string
	Line    int
	Message string
}

// String is "file:line: message", the form editors and CI logs link.
func (p Problem) String() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	case p.File != "":
		return p.File + ": " + p.Message
	}
	return p.Message
}

// ValidationError rejects a policy set: it did not compile, or one of its
// tests did not pass. The running set stays.
type ValidationError struct {
	// Revision is the rejected set's, so that a log says which edit
	// failed.
	Revision string
	Problems []Problem
	// Tests holds every test that ran, passed or not, when the set
	// compiled far enough to run them.
	Tests []TestResult
}

// Error lists every problem on its own line, file:line first.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy set %s rejected:", e.Revision)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Validated is a policy set that compiled and passed its tests, ready to
// replace the running one (Engine.Install).
type Validated struct {
	c *compiled
	// Tests are the tests that decided the set's validity: the shipped
	// ones (from the once-per-process run) and those of the --policy
	// directories.
	Tests []TestResult
}

// Revision fingerprints the set: the first 12 hex digits of a SHA-256
// over every file's name, kind and content (policies, data and tests).
// Two loads of the same files have the same revision, whatever their
// modification times.
func (v *Validated) Revision() string { return v.c.revision }

// Files lists the set's policy and data files.
func (v *Validated) Files() []string { return v.c.files }

// Validate compiles src exactly as Load does and runs its Rego tests;
// only a set that compiles and passes may serve. On failure the error is
// a *ValidationError naming file and line (or a plain error when a file
// cannot be read).
//
// Which tests run, and why: the tests of the embedded set (rego/ and
// policies/) check the shipped rules as shipped. They take about two
// seconds, so they run once per process against the embedded set alone
// and the result is kept; a reload does not pay for them again, and with
// src.TrustShipped (authz serve) they do not run at all. The tests
// in the --policy directories run at every validation against the whole
// set as it would serve (embedded, overlaid, with the library's test
// fixtures such as data.hardened.test.fixtures), because those are the
// files that change. A directory that replaces a shipped rule file
// should carry that file's tests: the shipped ones test the shipped
// rule.
func Validate(ctx context.Context, src Sources) (*Validated, error) {
	files, err := src.collect()
	if err != nil {
		return nil, err
	}
	ss, err := src.schemas()
	if err != nil {
		return nil, err
	}
	rev := revision(files)
	c, err := compileFiles(ctx, files, ss)
	if err != nil {
		return nil, &ValidationError{Revision: rev, Problems: problems(err)}
	}
	var shipped []TestResult
	if !src.TrustShipped {
		if shipped, err = shippedTests(ctx, src); err != nil {
			return nil, err
		}
	}
	var users []file
	for _, f := range files {
		if f.kind == kindTest && !f.shipped() {
			users = append(users, f)
		}
	}
	var tests []TestResult
	if len(users) > 0 {
		var fixtures []file
		for _, f := range files {
			if f.kind != kindTest {
				fixtures = append(fixtures, f)
			} else if strings.HasPrefix(f.name, libraryOrigin) {
				fixtures = append(fixtures, f)
			}
		}
		tests, err = runTests(ctx, append(fixtures, users...), users, ss)
		if err != nil {
			return nil, &ValidationError{Revision: rev, Problems: problems(err)}
		}
	}
	all := append(append([]TestResult(nil), shipped...), tests...)
	if ps := failures(all); len(ps) > 0 {
		return nil, &ValidationError{Revision: rev, Problems: ps, Tests: all}
	}
	return &Validated{c: c, Tests: all}, nil
}

// Install makes v the set every following evaluation uses. Evaluations
// already running finish on the set they started with.
func (e *Engine) Install(v *Validated) {
	c := *v.c
	c.generation = e.generations.Add(1)
	e.current.Store(&c)
}

// Reload validates src and installs it. On error the engine keeps the set
// it had.
func (e *Engine) Reload(ctx context.Context, src Sources) (*Validated, error) {
	v, err := Validate(ctx, src)
	if err != nil {
		return nil, err
	}
	e.Install(v)
	return v, nil
}

// NewValidated returns an engine serving v.
func NewValidated(v *Validated) *Engine {
	e := &Engine{}
	e.Install(v)
	return e
}

// SourceRevision fingerprints src's files without compiling them, so a
// watcher can tell an edit that changes nothing (a touch, an editor's
// save of the same bytes) from one that needs a validation.
func SourceRevision(src Sources) (string, error) {
	files, err := src.collect()
	if err != nil {
		return "", err
	}
	return revision(files), nil
}

const (
	libraryOrigin  = "rego:"
	embeddedOrigin = "embedded:"
)

// shipped reports whether f comes with the binary rather than from a
// --policy directory.
func (f file) shipped() bool {
	return strings.HasPrefix(f.name, libraryOrigin) || strings.HasPrefix(f.name, embeddedOrigin)
}

func revision(files []file) string {
	h := sha256.New()
	for _, f := range files {
		// Length-prefixed, so that no two different sets hash the same
		// stream.
		fmt.Fprintf(h, "%d:%d:%s:%d:", f.kind, len(f.name), f.name, len(f.content))
		h.Write(f.content)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// shippedRuns caches the embedded set's test results by its revision: the
// embedded files are the binary's, so their results cannot change while
// it runs.
var shippedRuns = struct {
	sync.Mutex
	m map[string][]TestResult
}{m: map[string][]TestResult{}}

// shippedTests runs the tests of src's embedded set (Library and Rules,
// without Overrides) once per process.
func shippedTests(ctx context.Context, src Sources) ([]TestResult, error) {
	if src.Library == nil && src.Rules == nil {
		return nil, nil
	}
	embedded := Sources{Library: src.Library, Rules: src.Rules}
	files, err := embedded.collect()
	if err != nil {
		return nil, err
	}
	rev := revision(files)
	shippedRuns.Lock()
	defer shippedRuns.Unlock()
	if r, ok := shippedRuns.m[rev]; ok {
		return r, nil
	}
	ss, err := embedded.schemas()
	if err != nil {
		return nil, err
	}
	var tests []file
	for _, f := range files {
		if f.kind == kindTest {
			tests = append(tests, f)
		}
	}
	if len(tests) == 0 {
		shippedRuns.m[rev] = nil
		return nil, nil
	}
	results, err := runTests(ctx, files, tests, ss)
	if err != nil {
		return nil, &ValidationError{Revision: rev, Problems: problems(err)}
	}
	for i := range results {
		results[i].Shipped = true
	}
	// A run cut short by ctx says nothing about the tests: do not keep it.
	if ctx.Err() == nil {
		shippedRuns.m[rev] = results
	}
	return results, nil
}

// runTests compiles files (policies, data and test modules) with the
// engine's parser, capabilities and input schema, and runs the tests
// defined in run.
func runTests(ctx context.Context, files, run []file, ss *ast.SchemaSet) ([]TestResult, error) {
	modules := map[string]*ast.Module{}
	for _, f := range files {
		if f.kind == kindData {
			continue
		}
		m, err := parseModule(f)
		if err != nil {
			return nil, err
		}
		modules[f.name] = m
	}
	var names []string
	for _, f := range run {
		for _, r := range modules[f.name].Rules {
			name := r.Head.Ref().GroundPrefix().String()
			if strings.HasPrefix(name, tester.TestPrefix) || strings.HasPrefix(name, tester.SkipTestPrefix) {
				names = append(names, regexp.QuoteMeta(modules[f.name].Package.Path.String()+"."+name))
			}
		}
	}
	// With no test to run, the files still compile: a test file's helper
	// rules can be wrong too. "^$" matches no test name.
	filter := "^$"
	if len(names) > 0 {
		// Duplicate test names in one package are renamed name#01.
		filter = `^(?:` + strings.Join(names, "|") + `)(?:#[0-9]+)?$`
	}
	data, err := buildData(files)
	if err != nil {
		return nil, err
	}
	compiler := ast.NewCompiler().
		WithCapabilities(ast.CapabilitiesForThisVersion()).
		WithSchemas(ss).
		WithUseTypeCheckAnnotations(true).
		WithEnablePrintStatements(true).
		WithDefaultRegoVersion(ast.RegoV1)
	// Half the CPUs: a reload runs beside the decisions it must not slow.
	parallel := max(1, runtime.GOMAXPROCS(0)/2)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))).
		SetModules(modules).
		SetTimeout(TestTimeout).
		SetParallel(parallel).
		Filter(filter)
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{Name: r.Package + "." + r.Name, Duration: r.Duration, Outcome: OutcomePass}
		if r.Location != nil {
			tr.File, tr.Line = r.Location.File, r.Location.Row
		}
		switch {
		case r.Skip:
			tr.Outcome = OutcomeSkipped
		case r.Error != nil:
			tr.Outcome, tr.Error = OutcomeError, r.Error.Error()
		case r.Fail:
			tr.Outcome = OutcomeFail
		}
		out = append(out, tr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run the policy tests: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

// failures lists the tests that did not pass. A skipped test (todo_test_)
// does not reject a set: `opa test` does not fail on it either.
func failures(tests []TestResult) []Problem {
	var ps []Problem
	for _, t := range tests {
		switch t.Outcome {
		case OutcomeFail:
			ps = append(ps, Problem{File: t.File, Line: t.Line, Message: "test " + t.Name + " failed"})
		case OutcomeError:
			ps = append(ps, Problem{File: t.File, Line: t.Line, Message: "test " + t.Name + ": " + t.Error})
		}
	}
	return ps
}

// problems turns a compile error into one problem per location; OPA's
// errors carry file and row.
func problems(err error) []Problem {
	var errs ast.Errors
	if errors.As(err, &errs) {
		ps := make([]Problem, 0, len(errs))
		for _, e := range errs {
			ps = append(ps, astProblem(e))
		}
		return ps
	}
	var one *ast.Error
	if errors.As(err, &one) {
		return []Problem{astProblem(one)}
	}
	return []Problem{{Message: err.Error()}}
}

func astProblem(e *ast.Error) Problem {
	p := Problem{Message: e.Code + ": " + e.Message}
	if e.Location != nil {
		p.File, p.Line = e.Location.File, e.Location.Row
	}
	return p
}

package opadockerauthz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Query is the decision opa-docker-authz asks its policy for (its
// -allowPath default): the request is allowed only when it is true.
const Query = "data.docker.authz.allow"

var queryRef = ast.MustParseRef(Query)

// Policy is an opa-docker-authz policy file, compiled and its query
// prepared once. It is safe for concurrent use.
type Policy struct {
	file     string
	revision string
	query    rego.PreparedEvalQuery
	warnings []string
}

// Load reads and compiles the policy file (see Compile).
func Load(ctx context.Context, file string) (*Policy, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the opa-docker-authz policy: %w", err)
	}
	return Compile(ctx, file, src)
}

// Compile parses src, the policy file's content, as Rego v1 (as
// opa-docker-authz does since it moved to OPA 1.x), compiles it alone (it
// sees no other policy and no data, as in opa-docker-authz's policy-file
// mode) and prepares Query. The errors name file and line. A policy that
// defines no data.docker.authz.allow would deny every request, and is
// refused here rather than found out by every docker command failing.
func Compile(ctx context.Context, file string, src []byte) (*Policy, error) {
	m, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		if _, v0err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV0}); v0err == nil {
			return nil, fmt.Errorf("%w\n%s is written in Rego v0, which opa-docker-authz read before 0.10 (OPA 1.0): convert it with `go tool opa fmt --v0-v1 --write %s` (or `opa fmt --v0-v1 -w`), check it still passes your tests, and start again", err, file, file)
		}
		return nil, err
	}
	c := ast.NewCompiler().WithEnablePrintStatements(false)
	if c.Compile(map[string]*ast.Module{file: m}); c.Failed() {
		return nil, c.Errors
	}
	if len(c.GetRulesForVirtualDocument(queryRef)) == 0 {
		return nil, fmt.Errorf("%s: defines no rule %s (package %s): opa-docker-authz would deny every request with it; its allow rule must be in package docker.authz", file, Query, m.Package.Path)
	}
	q, err := rego.New(rego.Query(Query), rego.Compiler(c)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: prepare %s: %w", file, Query, err)
	}
	sum := sha256.Sum256(src)
	return &Policy{file: file, revision: hex.EncodeToString(sum[:6]), query: q, warnings: globWarnings(m)}, nil
}

// Warnings are what the policy may decide differently here than under
// opa-docker-authz, found in its source at load: serve logs them.
func (p *Policy) Warnings() []string { return p.warnings }

// globWarnings finds glob.match patterns with "**" before a delimiter
// ("/**/containers/create"). opa-docker-authz 0.10 and later link OPA 1.3
// to 1.7.1 (1.7.1 at commit 51323aa), whose glob library let "**/" match
// no segment at all,
// so that pattern matched "/containers/create"; OPA 1.21 and later (this
// plugin's) use gobwas/glob 1.0.0, where it matches one segment or more.
// A policy relying on the old reading lets the unversioned path through.
func globWarnings(m *ast.Module) []string {
	var out []string
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		terms, ok := e.Terms.([]*ast.Term)
		if !ok || len(terms) < 3 || terms[0].Value.Compare(ast.GlobMatch.Ref()) != 0 {
			return false
		}
		pattern, ok := terms[1].Value.(ast.String)
		if !ok {
			return false
		}
		delims := "."
		if arr, ok := terms[2].Value.(*ast.Array); ok && arr.Len() > 0 {
			delims = ""
			arr.Foreach(func(t *ast.Term) {
				if s, ok := t.Value.(ast.String); ok {
					delims += string(s)
				}
			})
		}
		for i := strings.Index(string(pattern), "**"); i >= 0 && i+2 < len(pattern); {
			if strings.ContainsRune(delims, rune(pattern[i+2])) {
				out = append(out, fmt.Sprintf("%v: glob.match(%q, …): here \"**\" followed by a delimiter matches one segment or more, never none (OPA 1.21 and later); under opa-docker-authz (OPA 1.7 and before) it could match none, so a path without that segment (%q) matched there and does not here. Match that path as well (a second glob.match, or endswith on input.PathPlain).",
					e.Location, string(pattern), strings.Replace(string(pattern), string(pattern[i:i+3]), "", 1)))
				break
			}
			next := strings.Index(string(pattern[i+2:]), "**")
			if next < 0 {
				break
			}
			i += 2 + next
		}
		return false
	})
	return out
}

// File is the policy file's path, as given.
func (p *Policy) File() string { return p.file }

// Revision identifies the file's content: a prefix of its SHA-256.
func (p *Policy) Revision() string { return p.revision }

// Outcome says how a decision came about.
type Outcome int

// The outcomes of Decide. Only Allowed and SkippedPing allow.
const (
	// Allowed: the query was true.
	Allowed Outcome = iota
	// SkippedPing: HEAD /_ping, which opa-docker-authz allows without its
	// policy (its -skip-ping, on by default).
	SkippedPing
	// False: the query was false.
	False
	// Undefined: no allow rule matched and the policy has no default.
	Undefined
	// NotBoolean: the query was a value other than true or false.
	NotBoolean
	// BadInput: the input could not be built (see Input); opa-docker-authz
	// refuses these requests with an error.
	BadInput
	// Failed: the evaluation failed, or ran out of time.
	Failed
)

// Decision is the policy's answer on one request.
type Decision struct {
	// Allow is true only when the query was true (or for SkippedPing).
	Allow bool
	// Outcome says how the decision came about.
	Outcome Outcome
	// Input is the document evaluated, nil when it could not be built or
	// for SkippedPing.
	Input ast.Value
	// Value is the query's value for NotBoolean.
	Value any
	// Err says why, for BadInput and Failed.
	Err error
}

// Why says in a few words why the decision is not an allow, for a deny
// message; "" for an allow.
func (d Decision) Why() string {
	switch d.Outcome {
	case False:
		return Query + " is false"
	case Undefined:
		return Query + " is undefined (no allow rule matched, and the policy has no default)"
	case NotBoolean:
		return fmt.Sprintf("%s is %s, not true", Query, describe(d.Value))
	case BadInput:
		if errors.Is(d.Err, ErrTooManyMounts) {
			return fmt.Sprintf("its input could not be built (%v): mount fewer, broader directories", d.Err)
		}
		return fmt.Sprintf("its input could not be built (%v), and opa-docker-authz refuses such a request too", d.Err)
	case Failed:
		return fmt.Sprintf("%s could not be evaluated (%v)", Query, d.Err)
	}
	return ""
}

// describe renders a non-boolean query value briefly.
func describe(v any) string {
	t, err := ast.InterfaceToValue(v)
	if err != nil {
		return fmt.Sprintf("a %T", v)
	}
	s := t.String()
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// SkipsPing reports whether opa-docker-authz allows req without asking its
// policy: HEAD /_ping exactly, which every docker command sends first.
func SkipsPing(req authorization.Request) bool {
	return req.RequestMethod == "HEAD" && req.RequestURI == "/_ping"
}

// Decide evaluates the policy on req within ctx. Anything but true is a
// deny; the Decision says which.
func (p *Policy) Decide(ctx context.Context, req authorization.Request) Decision {
	if SkipsPing(req) {
		return Decision{Allow: true, Outcome: SkippedPing}
	}
	in, err := Input(req)
	if err != nil {
		return Decision{Outcome: BadInput, Err: err}
	}
	return p.Eval(ctx, in)
}

// Eval evaluates the policy on an input document Input built.
func (p *Policy) Eval(ctx context.Context, in ast.Value) Decision {
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(in))
	switch {
	case err != nil:
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %v", ctx.Err(), err)
		}
		return Decision{Outcome: Failed, Input: in, Err: err}
	case len(rs) == 0 || len(rs[0].Expressions) == 0:
		return Decision{Outcome: Undefined, Input: in}
	}
	switch v := rs[0].Expressions[0].Value.(type) {
	case bool:
		if v {
			return Decision{Allow: true, Outcome: Allowed, Input: in}
		}
		return Decision{Outcome: False, Input: in}
	default:
		return Decision{Outcome: NotBoolean, Input: in, Value: v}
	}
}

package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/testtree"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

// acmeRule and acmeTest are the README's example rule (images must come
// from the internal registry) and its test, kept in testdata/acme.
var acmeRule, acmeTest = testtree.Acme("acme_registry.rego"), testtree.Acme("acme_registry_test.rego")

func shipped(dirs ...string) policy.Sources {
	return policy.Sources{Library: rego.FS, Rules: policies.FS, Overrides: dirs}
}

// The shipped set validates: it compiles, and its Rego tests, run with
// the engine's input schema, pass. The second validation reuses the
// shipped tests' result, which is what keeps a reload fast.
func TestValidateShippedSet(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	v, err := policy.Validate(ctx, shipped())
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	if len(v.Tests) < 100 {
		t.Fatalf("%d tests ran, want the shipped suite", len(v.Tests))
	}
	for _, tr := range v.Tests {
		if !tr.Shipped || tr.Outcome != policy.OutcomePass || tr.File == "" || tr.Line == 0 {
			t.Errorf("%+v", tr)
		}
	}
	start = time.Now()
	again, err := policy.Validate(ctx, shipped())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("validated the shipped set (%d tests) in %v, again in %v", len(v.Tests), first, time.Since(start))
	if again.Revision() != v.Revision() || len(v.Revision()) != 12 {
		t.Errorf("revisions %q and %q of the same files", v.Revision(), again.Revision())
	}
}

// A --policy directory's tests run against the whole set as it serves,
// with the library's fixtures; a failing one rejects the set at its file
// and line, and the engine keeps serving what it had. The next good
// edit is taken.
func TestReloadRunsTheDirectoryTests(t *testing.T) {
	ctx := context.Background()
	e, err := policy.New(ctx, shipped())
	if err != nil {
		t.Fatal(err)
	}
	before := e.Revision()

	good := testtree.Write(t, map[string]string{"acme/acme_registry.rego": acmeRule, "acme/acme_registry_test.rego": acmeTest})
	v, err := e.Reload(ctx, shipped(good))
	if err != nil {
		t.Fatal(err)
	}
	var ran bool
	for _, tr := range v.Tests {
		if tr.Name == "data.hardened.rules.acme_registry.test_denies_public_images" {
			ran = tr.Outcome == policy.OutcomePass && !tr.Shipped && strings.HasSuffix(tr.File, "acme_registry_test.rego") && tr.Line == 5
		}
	}
	if !ran {
		t.Errorf("the directory's test did not pass at its line: %+v", v.Tests[len(v.Tests)-1])
	}
	if e.Revision() == before || e.Revision() != v.Revision() {
		t.Errorf("revision %s after reload, was %s, validated %s", e.Revision(), before, v.Revision())
	}
	taken := e.Revision()

	// The rule is edited to allow everything; its test now fails.
	broken := testtree.Write(t, map[string]string{
		"acme/acme_registry.rego":      strings.Replace(acmeRule, `not startswith(`, `startswith(`, 1),
		"acme/acme_registry_test.rego": acmeTest,
	})
	_, err = e.Reload(ctx, shipped(broken))
	var ve *policy.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("a failing test did not reject the set: %v", err)
	}
	want := filepath.Join(broken, "acme", "acme_registry_test.rego") + ":5: test data.hardened.rules.acme_registry.test_denies_public_images failed"
	if got := ve.Problems[0].String(); got != want {
		t.Errorf("problem %q, want %q", got, want)
	}
	if e.Revision() != taken {
		t.Errorf("a rejected set replaced the running one: %s", e.Revision())
	}
	// The old set still denies.
	in := map[string]any{
		"action":    "container_create",
		"image":     map[string]any{"repository": "docker.io/library/nginx", "ref": "nginx:1"},
		"container": map[string]any{},
	}
	if _, err := e.Evaluate(ctx, ast.MustInterfaceToValue(in)); err != nil {
		t.Fatalf("the running set no longer evaluates: %v", err)
	}
}

// Compile errors, in rules or in tests, reject the set with the file and
// line OPA reports.
func TestValidateCompileErrorsNameFileAndLine(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		files map[string]string
		file  string
		line  int
	}{
		"rule syntax": {map[string]string{"acme/acme.rego": "package hardened.rules.acme\n\ndeny contains x if {\n"}, "acme/acme.rego", 4},
		"test unsafe": {map[string]string{"acme/acme_registry.rego": acmeRule, "acme/acme_registry_test.rego": "package hardened.rules.acme_registry\n\ntest_x if {\n\tx == 1\n}\n"}, "acme/acme_registry_test.rego", 4},
		"input typo":  {map[string]string{"acme/acme.rego": "package hardened.rules.acme\n\nwarn contains 1 if {\n\tinput.container.helthcheck.form == \"none\"\n}\n"}, "acme/acme.rego", 4},
		"helper only": {map[string]string{"acme/helpers_test.rego": "package hardened.rules.acme\n\nhelper(x) if {\n\tx == y\n}\n"}, "acme/helpers_test.rego", 4},
		"no fixture":  {map[string]string{"acme/acme_registry.rego": acmeRule, "acme/acme_registry_test.rego": "package hardened.rules.acme_registry\n\ntest_x if {\n\tdata.hardened.test.fixtures.nope(1)\n}\n"}, "acme/acme_registry_test.rego", 4},
	} {
		t.Run(name, func(t *testing.T) {
			dir := testtree.Write(t, tc.files)
			_, err := policy.Validate(ctx, shipped(dir))
			var ve *policy.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want a ValidationError", err)
			}
			want := filepath.Join(dir, tc.file)
			for _, p := range ve.Problems {
				if p.File == want && p.Line == tc.line {
					return
				}
			}
			t.Errorf("no problem at %s:%d:\n%v", want, tc.line, err)
		})
	}
}

// The revision follows the bytes: the same files give the same revision,
// one changed byte another, and SourceRevision tells without compiling.
func TestRevisionFollowsContent(t *testing.T) {
	dir := testtree.Write(t, map[string]string{"acme/acme_registry.rego": acmeRule})
	r1, err := policy.SourceRevision(shipped(dir))
	if err != nil {
		t.Fatal(err)
	}
	v, err := policy.Validate(context.Background(), shipped(dir))
	if err != nil {
		t.Fatal(err)
	}
	if v.Revision() != r1 {
		t.Errorf("Validate's revision %s, SourceRevision %s", v.Revision(), r1)
	}
	if err := os.WriteFile(filepath.Join(dir, "acme", "acme_registry.rego"), []byte(acmeRule+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r2, _ := policy.SourceRevision(shipped(dir)); r2 == r1 {
		t.Errorf("revision %s unchanged after an edit", r2)
	}
}

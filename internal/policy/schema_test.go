package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

// A --policy rule that reads a field the input does not have fails to
// load, with OPA's error naming the field and the ones it could be: the
// engine type-checks rules against the library's input schema, so the
// typo does not become a deny rule that never matches. Spelled right, the
// rule loads beside the shipped set.
func TestEngineRejectsMisspelledInput(t *testing.T) {
	rule := func(field string) string {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "acme"), 0o755); err != nil {
			t.Fatal(err)
		}
		src := `package hardened.rules.acme

deny contains {"rule": "ACME020", "severity": "error", "title": "t", "message": "ACME020: healthcheck disabled", "fix": {"summary": "s"}} if {
	input.container.` + field + `.form == "none"
}
`
		if err := os.WriteFile(filepath.Join(dir, "acme", "acme.rego"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	ctx := context.Background()

	_, err := policy.New(ctx, policy.Sources{Library: rego.FS, Rules: policies.FS, Overrides: []string{rule("helthcheck")}})
	if err == nil {
		t.Fatal("a rule reading input.container.helthcheck loaded")
	}
	for _, want := range []string{"acme.rego:4", "undefined ref: input.container.helthcheck.form", `have: "helthcheck"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}

	if _, err := policy.New(ctx, policy.Sources{Library: rego.FS, Rules: policies.FS, Overrides: []string{rule("healthcheck")}}); err != nil {
		t.Fatalf("input.container.healthcheck: %v", err)
	}
}

// The shipped set type-checks against the input schema: `authz check`
// relies on it to skip that check when it compiles the shipped set alone
// (Sources.TypeCheckedShipped). A shipped rule that reads a field the
// input does not have fails here, and in CI's `opa check --schema`.
func TestShippedSetTypeChecks(t *testing.T) {
	if _, err := policy.New(context.Background(), policy.Sources{Library: rego.FS, Rules: policies.FS}); err != nil {
		t.Fatal(err)
	}
}

// With an override directory the whole set is type-checked even when the
// shipped set is trusted: the check is for the operator's rules.
func TestTypeCheckedShippedChecksOverrides(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package hardened.rules.acme\n\ndeny contains \"x\" if input.container.helthcheck.form == \"none\"\n"
	if err := os.WriteFile(filepath.Join(dir, "acme", "acme.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := policy.New(context.Background(), policy.Sources{Library: rego.FS, Rules: policies.FS, Overrides: []string{dir}, TypeCheckedShipped: true})
	if err == nil || !strings.Contains(err.Error(), "input.container.helthcheck") {
		t.Fatalf("a misspelled input field in an override loaded with TypeCheckedShipped: %v", err)
	}
}

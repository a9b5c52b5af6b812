package rego_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
)

// checkStrict compiles the Rego files under dirs as `go tool opa check
// --strict [--schema schemaDir] dirs...` does (cmd/check.go, checkModules:
// the same loader, schema loader and compiler options), and returns its
// errors. schemaDir "" checks without schemas.
func checkStrict(t *testing.T, schemaDir string, dirs ...string) error {
	t.Helper()
	ss, err := loader.Schemas(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	onlyRego := func(_ string, info fs.FileInfo, _ int) bool {
		return !info.IsDir() && !strings.HasSuffix(info.Name(), ".rego")
	}
	res, err := loader.NewFileLoader().
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		Filtered(dirs, onlyRego)
	if err != nil {
		t.Fatal(err)
	}
	c := ast.NewCompiler().
		WithCapabilities(ast.CapabilitiesForThisVersion()).
		WithSchemas(ss).
		WithEnablePrintStatements(true).
		WithStrict(true).
		WithUseTypeCheckAnnotations(true)
	if c.Compile(res.ParsedModules()); c.Failed() {
		return c.Errors
	}
	return nil
}

// userRule is a rule a user adds beside the shipped policies; field is the
// container field it reads.
func userRule(t *testing.T, pkg, field string) string {
	t.Helper()
	dir := t.TempDir()
	src := "package " + pkg + `

deny contains msg if {
	input.action == "container.create"
	input.container.` + field + `.form == "none"
	msg := sprintf("ACME020: %s disables its healthcheck.", [input.container.name])
}
`
	if err := os.WriteFile(filepath.Join(dir, "acme.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The shipped policies, their tests (whose `with input as` fixtures are
// checked against the schema too) and the library pass `opa check
// --strict --schema schemas`, as .ci/run runs it.
func TestShippedPoliciesCheckWithSchema(t *testing.T) {
	if err := checkStrict(t, "schemas", "../policies", "."); err != nil {
		t.Fatalf("opa check --strict --schema rego/schemas policies rego:\n%v", err)
	}
}

// With the schema, `opa check --strict` rejects a rule that reads a
// misspelled input field, in a rule family, a request rule or a library
// package of the user's: input_schema.rego types input in every package
// under hardened. The same rule spelled right passes; without the schema
// the typo passes too, and the rule would never match.
func TestCheckStrictRejectsMisspelledInput(t *testing.T) {
	for _, pkg := range []string{"hardened.rules.acme", "hardened.requests.acme", "hardened.lib.acme"} {
		t.Run(pkg, func(t *testing.T) {
			err := checkStrict(t, "schemas", "../policies", ".", userRule(t, pkg, "helthcheck"))
			if err == nil {
				t.Fatal("input.container.helthcheck passed opa check --strict --schema")
			}
			for _, want := range []string{"rego_type_error: undefined ref: input.container.helthcheck.form", `have: "helthcheck"`, `"healthcheck"`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q:\n%v", want, err)
				}
			}
			if err := checkStrict(t, "schemas", "../policies", ".", userRule(t, pkg, "healthcheck")); err != nil {
				t.Errorf("input.container.healthcheck: %v", err)
			}
			if err := checkStrict(t, "", "../policies", ".", userRule(t, pkg, "helthcheck")); err != nil {
				t.Errorf("without the schema: %v", err)
			}
		})
	}
}

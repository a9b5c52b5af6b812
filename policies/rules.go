package policies

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Rule is a shipped rule as its METADATA annotation describes it.
type Rule struct {
	ID       string // custom.id, "HA002"
	Title    string
	Severity string // custom.severity, "error" (the default) or "warning"
	Package  string // "hardened.rules.healthcheck"
	File     string // in FS, "healthcheck/healthcheck.rego"
}

// Rules reads the shipped rules from their METADATA, in file order, one per
// annotated rule. The annotation is the one place a rule's ID, title and
// severity are written (the library builds every violation from it), so
// whatever else describes the rules, such as docs/rules.md and the examples
// `authz check` runs in tests, is checked against this list.
func Rules() ([]Rule, error) {
	var rules []Rule
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		src, err := fs.ReadFile(FS, p)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(p, string(src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			return fmt.Errorf("parse %s: %w", p, err)
		}
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		for _, a := range m.Annotations {
			id, _ := a.Custom["id"].(string)
			if a.Scope != "rule" || id == "" {
				continue
			}
			// The same default as hardened.lib.violation.
			severity, ok := a.Custom["severity"].(string)
			if !ok {
				severity = "error"
			}
			rules = append(rules, Rule{ID: id, Title: a.Title, Severity: severity, Package: pkg, File: p})
		}
		return nil
	})
	return rules, err
}

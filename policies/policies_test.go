package policies_test

import (
	"context"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/policies"
)

// TestRego runs the policies' and the library's Rego tests, the same set
// `go tool opa test policies rego` runs, so `go test ./...` covers them.
func TestRego(t *testing.T) {
	results, err := tester.Run(context.Background(), ".", "../rego")
	if err != nil {
		t.Fatalf("load and compile the Rego tests: %v", err)
	}
	if len(results) == 0 {
		t.Fatal("no Rego tests found under policies/ and rego/")
	}
	for _, r := range results {
		name := r.Package + "." + r.Name
		switch {
		case r.Skip:
			t.Errorf("%s is skipped (todo_test_): finish it or delete it", name)
		case r.Error != nil:
			t.Errorf("%s: error: %v (%s)", name, r.Error, r.Location)
		case r.Fail:
			t.Errorf("%s: failed (%s)", name, r.Location)
		}
	}
	t.Logf("%d Rego tests", len(results))
}

// shippedRules is policies.Rules, which the tests below take as the truth.
func shippedRules(t *testing.T) []policies.Rule {
	t.Helper()
	rules, err := policies.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal("no annotated rules in the shipped policies")
	}
	return rules
}

var ruleID = regexp.MustCompile(`^HA[0-9]{3}$`)

// One METADATA per rule ID: two annotations for one ID could give it two
// titles or severities, depending on which rule fired.
func TestRuleMetadata(t *testing.T) {
	seen := map[string]policies.Rule{}
	for _, r := range shippedRules(t) {
		if prev, dup := seen[r.ID]; dup {
			t.Errorf("%s has two METADATA annotations (%s and %s): make it one rule", r.ID, prev.File, r.File)
		}
		seen[r.ID] = r
		if !ruleID.MatchString(r.ID) {
			t.Errorf("%s: custom.id %q is not HA followed by three digits", r.File, r.ID)
		}
		if r.Title == "" {
			t.Errorf("%s (%s) has no title", r.ID, r.File)
		}
		if r.Severity != "error" && r.Severity != "warning" {
			t.Errorf("%s (%s): severity %q, want error or warning", r.ID, r.File, r.Severity)
		}
	}
}

// Rules live in <family>/<family>.rego, package hardened.rules.<family> (or
// hardened.requests.<family>), each with its <family>_test.rego: the layout
// the README promises and --policy overrides rely on (a file replaces the
// shipped file of the same path).
func TestFamilyLayout(t *testing.T) {
	families := 0
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		family := path.Dir(p)
		if p != family+"/"+family+".rego" && p != family+"/"+family+"_test.rego" {
			t.Errorf("%s: want %s/%s.rego or %s/%s_test.rego", p, family, family, family, family)
			return nil
		}
		if strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		families++
		if _, err := fs.Stat(policies.FS, family+"/"+family+"_test.rego"); err != nil {
			t.Errorf("%s has no %s_test.rego beside it", p, family)
		}
		src, err := fs.ReadFile(policies.FS, p)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(p, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		if pkg := m.Package.Path.String(); pkg != "data.hardened.rules."+family && pkg != "data.hardened.requests."+family {
			t.Errorf("%s: package %s, want hardened.rules.%s", p, strings.TrimPrefix(pkg, "data."), family)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if families == 0 {
		t.Fatal("no rule families found")
	}
}

// engineRules are decided in Go (internal/authz), not by a Rego rule:
// docs/rules.md lists them in its table without a METADATA to match.
var engineRules = func() map[string]bool {
	m := map[string]bool{}
	for _, id := range authz.BuiltinRules() {
		m[id] = true
	}
	return m
}()

// docs/rules.md describes every shipped rule under "## <ID>: <title>", with
// the title of its METADATA, and lists it in the table at the top with its
// severity and family; it describes no rule that does not exist.
func TestRulesDocumented(t *testing.T) {
	raw, err := os.ReadFile("../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	headings := map[string]string{} // ID -> title
	for _, m := range regexp.MustCompile(`(?m)^## (HA[0-9]+): (.*)$`).FindAllStringSubmatch(doc, -1) {
		headings[m[1]] = m[2]
	}
	rows := map[string]string{} // ID -> the table row
	for _, m := range regexp.MustCompile(`(?m)^\| (?:\[)?(HA[0-9]+)\b.*$`).FindAllStringSubmatch(doc, -1) {
		rows[m[1]] = m[0]
	}

	rules := map[string]bool{}
	for _, r := range shippedRules(t) {
		rules[r.ID] = true
		if title, ok := headings[r.ID]; !ok {
			t.Errorf("docs/rules.md has no heading \"## %s: %s\"", r.ID, r.Title)
		} else if title != r.Title {
			t.Errorf("docs/rules.md: \"## %s: %s\", but its METADATA title (%s) is %q", r.ID, title, r.File, r.Title)
		}
		anchor := strings.ToLower(r.ID)
		if !strings.Contains(doc, `<a id="`+anchor+`"></a>`) {
			t.Errorf("docs/rules.md has no <a id=%q></a> for the table's link to %s", anchor, r.ID)
		}
		family := r.Package[strings.LastIndex(r.Package, ".")+1:]
		if want := "| [" + r.ID + "](#" + anchor + ") | " + r.Severity + " | " + family; !strings.HasPrefix(rows[r.ID], want) {
			t.Errorf("docs/rules.md: the table's row for %s is %q, want it to start with %q", r.ID, rows[r.ID], want)
		}
	}
	for id := range headings {
		if !rules[id] && !engineRules[id] {
			t.Errorf("docs/rules.md describes %s, which no shipped rule has", id)
		}
	}
	for id := range rows {
		if !rules[id] && !engineRules[id] {
			t.Errorf("docs/rules.md lists %s in its table, which no shipped rule has", id)
		}
	}
	for id := range engineRules {
		if _, ok := rows[id]; !ok {
			t.Errorf("docs/rules.md does not list %s (decided in internal/authz) in its table", id)
		}
	}
}

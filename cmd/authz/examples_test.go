package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/policies"
)

// examplesDir holds a directory per rule ID with compose files that show
// the rule: bad*.compose.yaml trigger it, good*.compose.yaml are the same
// project fixed; a file named target ("stack") checks them with that
// --target. They live in testdata rather than beside the rules, where
// `opa test policies rego` would load every YAML file as data.
var examplesDir = filepath.Join("..", "..", "testdata", "rules")

// targetFile in an example directory holds the --target its examples are
// checked with ("stack"); without it, the default (compose).
const targetFile = "target"

// notInCompose are the shipped rules no compose file can trigger, so they
// have no examples.
var notInCompose = map[string]string{
	"HA090": "plugin management requests only",
}

var exampleName = regexp.MustCompile(`^(bad|good)[a-z0-9-]*\.compose\.yaml$`)

// TestRuleExamples runs `authz check` on every rule example, as a user
// would on the rule's documentation: a bad example must report its rule
// (exit 1 for an error, 0 for a warning), a good one must not, and must
// leave no error either. Every rule a compose file can trigger needs both.
func TestRuleExamples(t *testing.T) {
	rules, err := policies.Rules()
	if err != nil {
		t.Fatal(err)
	}
	severity := map[string]string{}
	for _, r := range rules {
		severity[r.ID] = r.Severity
	}

	examples := map[string][]string{} // rule ID -> example files
	targets := map[string]string{}    // rule ID -> --target, when not the default
	err = filepath.WalkDir(examplesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(examplesDir, p)
		switch parts := strings.Split(filepath.ToSlash(rel), "/"); {
		case d.IsDir() && len(parts) == 1 && parts[0] != ".":
			if _, ok := severity[rel]; !ok {
				t.Errorf("%s: no shipped rule has the ID %q", p, rel)
				return fs.SkipDir
			}
		case d.IsDir() && len(parts) > 1:
			t.Errorf("%s: examples are files directly under testdata/rules/<ID>/", p)
			return fs.SkipDir
		case !d.IsDir() && len(parts) == 1:
			if rel != "README.md" {
				t.Errorf("%s: examples go in testdata/rules/<ID>/", p)
			}
		case !d.IsDir() && parts[1] == targetFile:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			targets[parts[0]] = strings.TrimSpace(string(b))
		case !d.IsDir():
			if !exampleName.MatchString(parts[1]) {
				t.Errorf("%s: not bad*.compose.yaml or good*.compose.yaml, so no test would run it", p)
				return nil
			}
			examples[parts[0]] = append(examples[parts[0]], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, r := range rules {
		if _, skip := notInCompose[r.ID]; skip {
			continue
		}
		var bad, good int
		for _, p := range examples[r.ID] {
			if strings.HasPrefix(filepath.Base(p), "bad") {
				bad++
			} else {
				good++
			}
		}
		if bad == 0 || good == 0 {
			t.Errorf("%s has %d bad and %d good examples in testdata/rules/%s/: it needs at least one of each", r.ID, bad, good, r.ID)
		}
	}

	ids := make([]string, 0, len(examples))
	for id := range examples {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for _, file := range examples[id] {
			name := id + "/" + filepath.Base(file)
			t.Run(name, func(t *testing.T) {
				args := []string{"check", "--no-daemon", "--format", "json", file}
				if target := targets[id]; target != "" {
					args = append(args, "--target", target)
				}
				stdout, stderr, code := run(t, args...)
				if code == 2 {
					t.Fatalf("exit 2: the example does not load\n%s", stderr)
				}
				var got []string
				reported := false
				for _, f := range jsonReport(t, stdout).Findings {
					got = append(got, f.Rule+" "+f.Severity+" "+f.Service)
					if f.Rule == id {
						reported = true
						if f.Severity != severity[id] {
							t.Errorf("%s is reported as %s, its METADATA says %s", id, f.Severity, severity[id])
						}
					}
				}
				bad := strings.HasPrefix(filepath.Base(file), "bad")
				wantCode := 0
				if bad && severity[id] == "error" {
					wantCode = 1
				}
				switch {
				case bad && !reported:
					t.Errorf("does not trigger %s; findings: %v", id, got)
				case !bad && reported:
					t.Errorf("the fixed example still triggers %s; findings: %v", id, got)
				case code != wantCode:
					t.Errorf("exit %d, want %d; findings: %v", code, wantCode, got)
				}
			})
		}
	}
}

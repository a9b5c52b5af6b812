package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/atomicfile"
	"github.com/hardened-authz/hardened-authz/internal/check"
	"github.com/hardened-authz/hardened-authz/internal/compose"
	"github.com/hardened-authz/hardened-authz/internal/composefix"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/report"
)

// fixProject applies the fix actions of findings to the project's files:
// each action in the file its finding points at. Sidecars are added
// first, so that a depends_on is only repointed to a service that exists
// afterwards. With diff, the changes are printed as a unified diff and
// nothing is written. It returns the number of actions applied.
func fixProject(cmd *cobra.Command, p *compose.Project, findings []check.Finding, diff bool) (int, error) {
	stderr := cmd.ErrOrStderr()
	wd, _ := os.Getwd()
	name := func(file string) string { return report.RelPath(wd, file) }
	byFile := map[string][]policy.Action{}
	var files []string
	seen := map[string]bool{}
	for _, f := range findings {
		for _, a := range f.Fix.Actions {
			if key := f.File + actionKey(a); !seen[key] {
				seen[key] = true
				if _, ok := byFile[f.File]; !ok {
					files = append(files, f.File)
				}
				byFile[f.File] = append(byFile[f.File], a)
			}
		}
	}
	if len(files) == 0 {
		return 0, nil
	}

	original := map[string][]byte{}
	content := map[string][]byte{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return 0, fmt.Errorf("--fix: %w", err)
		}
		original[file], content[file] = b, b
	}
	exists := map[string]bool{}
	for name := range p.Model.Services {
		exists[name] = true
	}
	applied := 0
	apply := func(file string, actions []policy.Action) error {
		if len(actions) == 0 {
			return nil
		}
		out, skipped, err := composefix.Apply(content[file], actions)
		if err != nil {
			return fmt.Errorf("--fix %s: %w", file, err)
		}
		content[file] = out
		left := map[string]bool{}
		for _, sk := range skipped {
			if sk.Reason != composefix.ReasonApplied {
				fmt.Fprintf(stderr, "authz: %s: not fixed automatically: %s\n", name(file), sk.Reason)
			}
			left[actionKey(sk.Action)] = true
		}
		for _, a := range actions {
			if left[actionKey(a)] {
				continue
			}
			applied++
			if a.Op == policy.ActionAddSidecar {
				exists[a.Name] = true
			}
		}
		return nil
	}
	// Phase 1: sidecars. Phase 2: depends_on, only towards services that
	// exist now; the others stay for a reviewer, with the finding.
	for _, file := range files {
		if err := apply(file, filterActions(byFile[file], func(a policy.Action) bool { return a.Op != policy.ActionRepointDependsOn })); err != nil {
			return 0, err
		}
	}
	for _, file := range files {
		repoints := filterActions(byFile[file], func(a policy.Action) bool { return a.Op == policy.ActionRepointDependsOn })
		var ok []policy.Action
		for _, a := range repoints {
			if exists[a.To] {
				ok = append(ok, a)
			} else {
				fmt.Fprintf(stderr, "authz: %s: not fixed automatically: service %q would wait for %q, which does not exist (add the sidecar first)\n", name(file), a.Service, a.To)
			}
		}
		if err := apply(file, ok); err != nil {
			return 0, err
		}
	}

	for _, file := range files {
		if string(content[file]) == string(original[file]) {
			continue
		}
		if diff {
			fmt.Fprint(cmd.OutOrStdout(), composefix.Diff(name(file), original[file], content[file]))
			continue
		}
		// Atomic and with the file's own mode: an interrupted --fix never
		// leaves half a compose file.
		st, err := os.Stat(file)
		if err == nil {
			err = atomicfile.Write(file, content[file], st.Mode().Perm())
		}
		if err != nil {
			return 0, fmt.Errorf("--fix: %w", err)
		}
		fmt.Fprintf(stderr, "authz: fixed %s\n", name(file))
	}
	return applied, nil
}

func filterActions(as []policy.Action, keep func(policy.Action) bool) []policy.Action {
	var out []policy.Action
	for _, a := range as {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// actionKey identifies an action: the same fix reached through two
// findings is applied once.
func actionKey(a policy.Action) string {
	b, _ := json.Marshal(a)
	return string(b)
}

package main

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/atomicfile"
	"github.com/hardened-authz/hardened-authz/internal/check"
	"github.com/hardened-authz/hardened-authz/internal/compose"
	"github.com/hardened-authz/hardened-authz/internal/composefix"
	"github.com/hardened-authz/hardened-authz/internal/report"
)

// fixProject applies the fix actions of findings to the project's files
// (composefix.Plan decides what changes) and says what it left out. With
// diff, the changes are printed as a unified diff and nothing is written.
// It returns the number of actions applied.
func fixProject(cmd *cobra.Command, p *compose.Project, findings []check.Finding, diff bool) (int, error) {
	// A finding an exception accepts is left as it is.
	findings = slices.DeleteFunc(slices.Clone(findings), func(f check.Finding) bool { return f.Skipped })
	res, err := composefix.Plan(findings, slices.Collect(maps.Keys(p.Model.Services)))
	if err != nil {
		return 0, fmt.Errorf("--fix: %w", err)
	}
	stderr := cmd.ErrOrStderr()
	wd, _ := os.Getwd()
	name := func(file string) string { return report.RelPath(wd, file) }
	for _, s := range res.Skipped {
		fmt.Fprintf(stderr, "authz: %s: not fixed automatically: %s\n", name(s.File), s.Reason)
	}
	for _, c := range res.Changes {
		if diff {
			fmt.Fprint(cmd.OutOrStdout(), composefix.Diff(name(c.File), c.Old, c.New))
			continue
		}
		// Atomic and with the file's own mode: an interrupted --fix never
		// leaves half a compose file.
		st, err := os.Stat(c.File)
		if err == nil {
			err = atomicfile.Write(c.File, c.New, st.Mode().Perm())
		}
		if err != nil {
			return 0, fmt.Errorf("--fix: %w", err)
		}
		fmt.Fprintf(stderr, "authz: fixed %s\n", name(c.File))
	}
	return res.Applied, nil
}

package composefix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/hardened-authz/hardened-authz/internal/check"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// Result is what the fix actions of a project's findings do to its files.
// It holds the new contents rather than writing them, so the caller
// decides between writing and showing a diff.
type Result struct {
	// Changes are the files whose content the actions change, in the order
	// their first finding came; a file whose actions all were skipped or
	// already applied has none.
	Changes []Change
	// Skipped are the actions left for a person, in the order Plan met
	// them: those of the first phase (sidecars) in every file, then the
	// depends_on ones. Actions whose result a file already has are not
	// listed: there is nothing left to do for them.
	Skipped []FileSkipped
	// Applied counts the actions applied, each once however many findings
	// carry it.
	Applied int
}

// Change is a file's content before and after the fix; Old is kept so a
// diff needs no second read of a file that may have changed since.
type Change struct {
	// File is named as the findings name it, so the caller can show it
	// relative to where the user is.
	File     string
	Old, New []byte
}

// FileSkipped is a skipped action with the file it was meant for: across a
// project, the same service name can be edited in several files.
type FileSkipped struct {
	// File is named as in Change.
	File string
	Skipped
}

// Plan works out the fix actions of findings on the files they point at,
// each action applied once in the file of its finding. Files are read with
// os.ReadFile, so relative names are taken from the working directory.
//
// Sidecars are added first, in every file, and only then are depends_on
// entries repointed, and only towards services that exist afterwards
// (services, the project's service names, plus the sidecars added): a
// depends_on on a service that does not exist would make compose refuse
// the whole project. Such a repoint is skipped and left for a reviewer,
// with its finding.
//
// err is for a file that cannot be read or is not YAML; it names the file.
func Plan(findings []check.Finding, services []string) (*Result, error) {
	p := &planner{
		res:    &Result{},
		byFile: map[string][]policy.Action{},
		old:    map[string][]byte{},
		cur:    map[string][]byte{},
		exists: map[string]bool{},
	}
	seen := map[string]bool{}
	for _, f := range findings {
		for _, a := range f.Fix.Actions {
			if key := f.File + actionKey(a); !seen[key] {
				seen[key] = true
				if _, ok := p.byFile[f.File]; !ok {
					p.files = append(p.files, f.File)
				}
				p.byFile[f.File] = append(p.byFile[f.File], a)
			}
		}
	}
	for _, s := range services {
		p.exists[s] = true
	}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.res, nil
}

// planner is the state of one Plan, shared by its two phases.
type planner struct {
	res *Result
	// files are the files with actions, in the order of their first
	// finding, which is the order of Result.Changes.
	files  []string
	byFile map[string][]policy.Action
	// old and cur are each file's content as read and as edited so far.
	old, cur map[string][]byte
	// exists holds the services a depends_on may be repointed to.
	exists map[string]bool
}

func (p *planner) run() error {
	for _, file := range p.files {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		p.old[file], p.cur[file] = b, b
	}
	for _, file := range p.files {
		if err := p.apply(file, filterActions(p.byFile[file], func(a policy.Action) bool { return a.Op != policy.ActionRepointDependsOn })); err != nil {
			return err
		}
	}
	for _, file := range p.files {
		var ok []policy.Action
		for _, a := range filterActions(p.byFile[file], func(a policy.Action) bool { return a.Op == policy.ActionRepointDependsOn }) {
			if p.exists[a.To] {
				ok = append(ok, a)
				continue
			}
			p.skip(file, a, fmt.Sprintf("service %q would wait for %q, which does not exist (add the sidecar first)", a.Service, a.To))
		}
		if err := p.apply(file, ok); err != nil {
			return err
		}
	}
	for _, file := range p.files {
		if !bytes.Equal(p.cur[file], p.old[file]) {
			p.res.Changes = append(p.res.Changes, Change{File: file, Old: p.old[file], New: p.cur[file]})
		}
	}
	return nil
}

// apply applies actions to file's current content and records what came
// of each; an added sidecar becomes a service the second phase may use.
func (p *planner) apply(file string, actions []policy.Action) error {
	if len(actions) == 0 {
		return nil
	}
	out, skipped, err := Apply(p.cur[file], actions)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	p.cur[file] = out
	left := map[string]bool{}
	for _, sk := range skipped {
		if sk.Reason != ReasonApplied {
			p.skip(file, sk.Action, sk.Reason)
		}
		left[actionKey(sk.Action)] = true
	}
	for _, a := range actions {
		if left[actionKey(a)] {
			continue
		}
		p.res.Applied++
		if a.Op == policy.ActionAddSidecar {
			p.exists[a.Name] = true
		}
	}
	return nil
}

func (p *planner) skip(file string, a policy.Action, reason string) {
	p.res.Skipped = append(p.res.Skipped, FileSkipped{File: file, Skipped: Skipped{Action: a, Reason: reason}})
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

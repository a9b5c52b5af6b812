package check

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/hardened-authz/hardened-authz/internal/compose"
	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// Checker evaluates the policies on compose projects.
type Checker struct {
	// Engine holds the compiled policies: the same as `authz serve`'s.
	Engine *policy.Engine
	// Images answers what is known of each image (a local daemon and its
	// file indexes). nil means image facts come from the catalog alone.
	Images *imagefacts.Source
	// Stack checks each service as `docker stack deploy` would create it:
	// the swarm service the plugin sees (compose.StackDocument), the
	// project's name standing for the stack's. Its documents have no
	// project and no depends_on, so the project rules do not apply.
	Stack bool
	// Enforcement is the operator's --mode and --exceptions, applied to
	// every service's findings as the plugin applies them; nil enforces.
	Enforcement *enforce.Policy
	// Now is the time exceptions expire against; zero means the clock.
	Now time.Time
	// off counts the findings the last Check dropped (Off).
	off int
}

// Off is how many findings the last Check dropped because their rule is
// "off". A checker whose Off is read must not run Checks concurrently.
func (c *Checker) Off() int { return c.off }

// Check evaluates every service of p, each as the document the plugin
// would build for its create request plus the whole project, and returns
// the findings in Compare's order. An error means the
// policies could not decide (a broken --policy file), not that a service
// is wrong.
func (c *Checker) Check(ctx context.Context, p *compose.Project) ([]Finding, error) {
	names := p.Services()
	images := map[string]imagefacts.Image{} // the same image is looked up once
	docs := make(map[string]input.Document, len(names))
	for _, name := range names {
		ref := p.Model.Services[name].Image
		img, ok := images[ref]
		if !ok {
			img = c.Images.Image(ctx, ref)
			images[ref] = img
		}
		if c.Stack {
			docs[name] = p.StackDocument(name, img)
		} else {
			docs[name] = p.Document(name, img)
		}
	}
	var project *input.Project
	if !c.Stack {
		project = input.NewProject(p.Name, docs)
	}

	c.off = 0
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	var findings []Finding
	for _, name := range names {
		doc := docs[name]
		doc.Project = project
		res, err := c.Engine.Evaluate(ctx, doc.Value())
		if err != nil {
			return nil, fmt.Errorf("project %q, service %q: %w", p.Name, name, err)
		}
		if ref := p.Model.Services[name].Image; unreadableReference(ref) {
			res.Warn = append(slices.Clip(res.Warn), referenceWarning(ref))
		}
		findings = append(findings, c.enforced(p, name, doc, res, now)...)
	}
	Sort(findings)
	return findings, nil
}

// enforced turns one service's result into findings under the
// checker's enforcement: the subject is the compose project and service
// (the stack target's documents have no compose labels), the image and
// the container's name (the first replica's, as docker compose names it,
// or the swarm service's).
func (c *Checker) enforced(p *compose.Project, name string, doc input.Document, res policy.Result, now time.Time) []Finding {
	s := enforce.SubjectOf(doc)
	s.ComposeProject, s.ComposeService = p.Name, name
	if !c.Stack {
		// The name docker compose gives the container, which is what an
		// exception's container: matches at the plugin.
		s.Container = cmp.Or(p.Model.Services[name].ContainerName, p.Name+"-"+name+"-1")
	}
	out := c.Enforcement.Apply(res, s, now)
	c.off += out.Off
	var fs []Finding
	for _, v := range out.Deny {
		fs = append(fs, newFinding(p, name, doc, v))
	}
	for _, v := range out.Demoted {
		f := newFinding(p, name, doc, v)
		f.Severity, f.Demoted = SeverityWarning, true
		fs = append(fs, f)
	}
	for _, v := range out.Warn {
		fs = append(fs, newFinding(p, name, doc, v))
	}
	for _, sk := range out.Skipped {
		f := newFinding(p, name, doc, sk.Violation)
		f.Skipped = true
		f.Exception = &Exception{File: c.Enforcement.Exceptions.File, Line: sk.Line, Reason: sk.Reason, Owner: sk.Owner, Expires: sk.Expires}
		fs = append(fs, f)
	}
	for _, e := range out.Expired {
		for i := range fs {
			if fs[i].Rule == e.Rule && !fs[i].Skipped {
				fs[i].Notes = append(fs[i].Notes, e.Note())
			}
		}
	}
	return fs
}

// RuleUnreadableReference is the ID of the warning `authz check` gives for
// an image reference it cannot parse (a placeholder such as
// "dhi.io/node:<tag>"): no policy can say anything of such an image, so
// without the warning a broken healthcheck would pass unnoticed.
const RuleUnreadableReference = "HA000"

// unreadableReference reports whether ref names an image in a way nothing
// can look up: not a reference (repository[:tag][@digest]) and not an
// image ID. A service without an image (build only) has nothing to read.
func unreadableReference(ref string) bool {
	if ref == "" {
		return false
	}
	if _, err := reference.ParseNormalizedNamed(ref); err == nil {
		return false
	}
	hex := strings.TrimPrefix(ref, "sha256:")
	return len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != ""
}

// referenceWarning is the finding for an unreadable reference, located
// at the service's image key.
func referenceWarning(ref string) policy.Violation {
	return policy.Violation{
		Rule:     RuleUnreadableReference,
		Severity: SeverityWarning,
		Title:    "Image reference not understood",
		Message: fmt.Sprintf("HA000: image %q is not an image reference (repository[:tag][@digest]), so neither the catalog nor a daemon can say what it contains and no healthcheck rule can check it; "+
			"docker would refuse it too. Replace a placeholder such as <tag> with a real tag.", ref),
		Fix:       policy.Fix{Summary: "Write the image as repository[:tag][@digest], e.g. dhi.io/node:24."},
		Locations: [][]string{{"image"}},
	}
}

// newFinding locates a violation on a service: at the first of the
// violation's locations that a compose file sets, else at the service's
// key, else (a service from include) at the project's first file.
func newFinding(p *compose.Project, service string, doc input.Document, v policy.Violation) Finding {
	c := doc.Container
	f := Finding{
		Rule:        v.Rule,
		Severity:    v.Severity,
		Title:       v.Title,
		Project:     p.Name,
		Service:     service,
		Image:       c.Image,
		ImageSource: doc.Image.Source,
		Message:     v.Message,
		Fix:         v.Fix,
	}
	f.File, f.Line, f.Column = p.Locate(f.Service, v.Locations)
	if f.File == "" && len(p.Files) > 0 {
		f.File = p.Files[0]
	}
	return f
}

// Compare orders findings as a reader walks the files: by file (project
// for findings without one), line, column, rule and service; the last
// fields only break ties, so that the order is total and every report of
// the same findings is the same bytes.
func Compare(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.Project, b.Project),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
		cmp.Compare(a.Rule, b.Rule),
		cmp.Compare(a.Service, b.Service),
		cmp.Compare(a.Severity, b.Severity),
		cmp.Compare(a.Message, b.Message),
		cmp.Compare(a.Image, b.Image),
	)
}

// Sort sorts findings in Compare's order.
func Sort(fs []Finding) { slices.SortStableFunc(fs, Compare) }

// IsWarning reports whether a finding is only a warning (skipped or not:
// Count leaves skipped findings out). Any other
// severity counts as an error: a finding of unknown weight should fail a
// build rather than slip through it.
func (f Finding) IsWarning() bool { return f.Severity == SeverityWarning }

// Count tallies findings by severity.
func Count(fs []Finding) (errors, warnings int) {
	for _, f := range fs {
		if f.Skipped {
			continue
		}
		if f.IsWarning() {
			warnings++
		} else {
			errors++
		}
	}
	return errors, warnings
}

// Summarize is s with the findings' counts by severity.
func Summarize(fs []Finding, s Summary) Summary {
	s.Errors, s.Warnings = Count(fs)
	s.Skipped = 0
	for _, f := range fs {
		if f.Skipped {
			s.Skipped++
		}
	}
	return s
}

package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hardened-authz/hardened-authz/internal/input"
)

// Image is what `authz image` prints: the facts a policy would see for a
// container of the image run as the image says.
type Image struct {
	Ref         string                       `json:"ref"`
	ID          string                       `json:"id"`
	Family      string                       `json:"family"`
	Hardened    bool                         `json:"hardened"`
	Source      string                       `json:"source"`
	Path        []string                     `json:"path"`
	Shell       ImageShell                   `json:"shell"`
	Healthcheck ImageHealthcheck             `json:"healthcheck"`
	Lookups     map[string]input.ProgramFact `json:"lookups"`
	Error       string                       `json:"error,omitempty"`
}

// ImageShell is what is known of the image's /bin/sh.
type ImageShell struct {
	Program string `json:"program"`
	// Found is true, false, or null when nothing says (never denied).
	Found  *bool  `json:"found"`
	Where  string `json:"path,omitempty"`
	Source string `json:"source"`
}

// ImageHealthcheck is the healthcheck a container of the image runs.
type ImageHealthcheck struct {
	Form      string   `json:"form"`
	Test      []string `json:"test"`
	Inherited bool     `json:"inherited"`
}

// NewImage reads the report from the document of a `docker run REF`
// create and lib, the value of data.hardened.lib.image for it; indexErr
// says why the image has no file index, when it has none.
func NewImage(doc input.Document, lib any, indexErr string) Image {
	facts, _ := lib.(map[string]any)
	c, img := doc.Container, doc.Image
	r := Image{
		Ref:         img.Ref,
		ID:          img.ID,
		Source:      img.Source,
		Path:        c.Path,
		Lookups:     img.Programs,
		Error:       img.Error,
		Healthcheck: ImageHealthcheck{Form: c.Healthcheck.Form, Test: c.Healthcheck.Test, Inherited: c.Healthcheck.Inherited},
		Shell:       ImageShell{Program: "/bin/sh", Source: "unknown"},
	}
	if r.Lookups == nil {
		r.Lookups = map[string]input.ProgramFact{}
	}
	r.Family, _ = facts["family"].(string)
	r.Hardened, _ = facts["is_hardened"].(bool)
	if found, ok := facts["shell_fact"].(bool); ok {
		r.Shell.Found = &found
	}
	if src, ok := facts["shell_source"].(string); ok {
		r.Shell.Source = src
	}
	if img.ShellFound != nil && *img.ShellFound {
		if p, ok := img.Programs["/bin/sh"]; ok {
			r.Shell.Where = p.Resolved
		}
	}
	if r.Error == "" {
		r.Error = indexErr
	}
	return r
}

// Write renders the report as "text" (aligned lines for a person) or
// "json".
func (r Image) Write(w io.Writer, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.writeText(w)
}

func (r Image) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	id := r.ID
	if id == "" {
		id = "(not in the daemon)"
	}
	family := r.Family
	switch {
	case family == "" && r.Hardened:
		family = "hardened (labels)"
	case family == "":
		family = "none known"
	case r.Hardened:
		family += " (hardened)"
	}
	shell := "unknown (never denied)"
	if r.Shell.Found != nil {
		shell = map[bool]string{true: "present", false: "none"}[*r.Shell.Found]
	}
	if r.Shell.Where != "" {
		shell += " at " + r.Shell.Where
	}
	fmt.Fprintf(tw, "image\t%s\n", r.Ref)
	fmt.Fprintf(tw, "id\t%s\n", id)
	fmt.Fprintf(tw, "family\t%s\n", family)
	fmt.Fprintf(tw, "facts from\t%s\n", r.Source)
	fmt.Fprintf(tw, "PATH\t%s\n", strings.Join(r.Path, ":"))
	fmt.Fprintf(tw, "shell\t%s: %s (%s)\n", r.Shell.Program, shell, r.Shell.Source)
	hc := r.Healthcheck.Form
	if len(r.Healthcheck.Test) > 0 {
		hc = strings.Join(r.Healthcheck.Test, " ")
	}
	if r.Healthcheck.Inherited {
		hc += " (the image's HEALTHCHECK)"
	}
	fmt.Fprintf(tw, "healthcheck\t%s\n", hc)
	for _, name := range slices.Sorted(maps.Keys(r.Lookups)) {
		p := r.Lookups[name]
		where := "not found"
		if p.Found {
			where = p.Path
		}
		fmt.Fprintf(tw, "lookup %s\t%s\n", name, where)
	}
	if r.Error != "" {
		fmt.Fprintf(tw, "note\t%s\n", r.Error)
	}
	return tw.Flush()
}

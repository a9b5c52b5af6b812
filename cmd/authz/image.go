package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/imagescan"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

type imageOptions struct {
	dockerHost  string
	format      string
	stateDir    string
	policyDirs  []string
	scanTimeout time.Duration
}

// imageReport is what `authz image` prints: the facts a policy would see for
// a container of the image run as the image says.
type imageReport struct {
	Ref         string                       `json:"ref"`
	ID          string                       `json:"id"`
	Family      string                       `json:"family"`
	Hardened    bool                         `json:"hardened"`
	Source      string                       `json:"source"`
	Path        []string                     `json:"path"`
	Shell       shellReport                  `json:"shell"`
	Healthcheck healthReport                 `json:"healthcheck"`
	Lookups     map[string]input.ProgramFact `json:"lookups"`
	Error       string                       `json:"error,omitempty"`
}

type shellReport struct {
	Program string `json:"program"`
	// Found is true, false, or null when nothing says (never denied).
	Found  *bool  `json:"found"`
	Where  string `json:"path,omitempty"`
	Source string `json:"source"`
}

type healthReport struct {
	Form      string   `json:"form"`
	Test      []string `json:"test"`
	Inherited bool     `json:"inherited"`
}

func newImageCommand() *cobra.Command {
	o := imageOptions{}
	cmd := &cobra.Command{
		Use:   "image REF",
		Short: "Print the facts the policies see for an image",
		Long: `Print what hardened-authz knows about an image: its ID, its hardened
family, where the facts come from (index: the image's own files; daemon:
image inspect; catalog: the name only), its PATH, its shell, its own
healthcheck, and the lookups of the programs a container of it runs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runImage(cmd, args[0], o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dockerHost, "docker-host", "", "daemon to ask (default: $DOCKER_HOST, else "+client.DefaultDockerHost+")")
	f.StringVar(&o.format, "format", "text", "text or json")
	f.StringVar(&o.stateDir, "state-dir", "", "image index cache to use and fill (default: none, scan now)")
	f.StringArrayVar(&o.policyDirs, "policy", nil, "directory of policies laid over the embedded ones, e.g. your own catalog (repeatable)")
	f.DurationVar(&o.scanTimeout, "scan-timeout", time.Minute, "how long to wait for the image's index")
	return cmd
}

func runImage(cmd *cobra.Command, ref string, o imageOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageError{fmt.Errorf("--format %q: want text or json", o.format)}
	}
	ctx := cmd.Context()
	engine, err := newEngine(ctx, o.policyDirs)
	if err != nil {
		return err
	}
	cli, host, err := dockerClient(o.dockerHost)
	if err != nil {
		return err
	}
	defer cli.Close()

	img := (&imagefacts.DaemonInspector{Client: cli, Timeout: 10 * time.Second}).Inspect(ctx, ref)
	if !img.Found {
		fmt.Fprintf(cmd.ErrOrStderr(), "authz: %s is not in the daemon at %s (%s); showing what the name says\n", ref, host, img.Err)
	}
	// The container as `docker run REF` would create it: no overrides.
	req := &container.CreateRequest{Config: &container.Config{Image: ref}, HostConfig: &container.HostConfig{}}
	doc := input.ForRequest(route.Parse("POST", "/containers/create"), input.Caller{}, "").WithCreate("", req, img)
	var indexErr string
	if img.Found {
		sctx, cancel := context.WithTimeout(ctx, o.scanTimeout)
		ix, err := imagescan.New(cli, o.stateDir, nil).Lookup(sctx, img.ID)
		cancel()
		if err != nil {
			indexErr = err.Error()
		} else {
			doc = doc.WithIndex(ix)
		}
	}
	facts, err := engine.Query(ctx, "data.hardened.lib.image", doc.Value())
	if err != nil {
		return err
	}
	r := newImageReport(doc, facts)
	if indexErr != "" && r.Error == "" {
		r.Error = indexErr
	}
	if o.format == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printReport(cmd.OutOrStdout(), r)
	return nil
}

func newImageReport(doc input.Document, facts any) imageReport {
	lib, _ := facts.(map[string]any)
	c, img := doc.Container, doc.Image
	r := imageReport{
		Ref:         img.Ref,
		ID:          img.ID,
		Source:      img.Source,
		Path:        c.Path,
		Lookups:     img.Programs,
		Error:       img.Error,
		Healthcheck: healthReport{Form: c.Healthcheck.Form, Test: c.Healthcheck.Test, Inherited: c.Healthcheck.Inherited},
		Shell:       shellReport{Program: "/bin/sh", Source: "unknown"},
	}
	if r.Lookups == nil {
		r.Lookups = map[string]input.ProgramFact{}
	}
	r.Family, _ = lib["family"].(string)
	r.Hardened, _ = lib["is_hardened"].(bool)
	if found, ok := lib["shell_fact"].(bool); ok {
		r.Shell.Found = &found
	}
	if src, ok := lib["shell_source"].(string); ok {
		r.Shell.Source = src
	}
	if img.ShellFound != nil && *img.ShellFound {
		if p, ok := img.Programs["/bin/sh"]; ok {
			r.Shell.Where = p.Resolved
		}
	}
	return r
}

func printReport(w io.Writer, r imageReport) {
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
	for _, name := range sortedKeys(r.Lookups) {
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
	tw.Flush()
}

func sortedKeys(m map[string]input.ProgramFact) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/atomicfile"
	"github.com/hardened-authz/hardened-authz/internal/catalog"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
)

func newCatalogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Build the image catalog from vendor definitions, or show what it says of an image",
		Long: `The image catalog tells the policies what an image contains (a shell,
curl, its entrypoint...) when neither its files nor the daemon can.
"authz catalog build" generates it from the vendors' public image
definitions; "authz catalog show" prints what it says of one image.`,
	}
	cmd.AddCommand(newCatalogBuildCommand(), newCatalogShowCommand())
	return cmd
}

func newCatalogBuildCommand() *cobra.Command {
	var from, out string
	cmd := &cobra.Command{
		Use:   "build --from DIR [-o FILE]",
		Short: "Generate the catalog from the vendors' image definitions",
		Long: `Generate the catalog from a directory holding dhi-catalog/ (a checkout of
github.com/docker-hardened-images/catalog: image/<name>/<distro>/<tag>.yaml
and a SOURCE.md naming the commit) and/or chainguard-images/ (the
images/<name>/locked_config.json of github.com/chainguard-images/images,
with a SOURCE.md). Writes JSON to FILE (policies/catalog/data.json in this
repository), or to stdout without -o; prints counts to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return usageError{fmt.Errorf("--from DIR is required")}
			}
			c, err := catalog.Build(from)
			if err != nil {
				return err
			}
			b, err := c.Marshal()
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				if _, err := cmd.OutOrStdout().Write(b); err != nil {
					return err
				}
			} else if err := atomicfile.Write(out, b, 0o644); err != nil {
				return err
			}
			s := c.Stats()
			fmt.Fprintf(cmd.ErrOrStderr(), "%d bytes: %d repositories, %d tags, %d fact sets; /bin/sh true/false/unknown %d/%d/%d, curl %d/%d/%d\n",
				len(b), s.Repositories, s.Tags, s.FactSets, s.Shell[0], s.Shell[1], s.Shell[2], s.Curl[0], s.Curl[1], s.Curl[2])
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "directory with dhi-catalog/ and/or chainguard-images/")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default: stdout)")
	return cmd
}

type catalogShowOptions struct {
	format     string
	policyDirs []string
}

func newCatalogShowCommand() *cobra.Command {
	o := catalogShowOptions{}
	cmd := &cobra.Command{
		Use:   "show IMAGE",
		Short: "Print what the catalog says of an image, and why",
		Long: `Print what the catalog (the embedded one, with --policy directories laid
over it) says of IMAGE, from its name alone: which repository key and tag
matched (an exact tag, the facts common to the repository's dev variants,
or to all its variants), whether an override applied, the source with its
commit, each fact as true, false or unknown, and the entrypoint, cmd,
user, workdir and PATH.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.format != "text" && o.format != "json" {
				return usageError{fmt.Errorf("--format %q: want text or json", o.format)}
			}
			return runCatalogShow(cmd, args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "text", "text or json")
	f.StringArrayVar(&o.policyDirs, "policy", nil, "directory of policies laid over the embedded ones, e.g. your own catalog entries (repeatable)")
	return cmd
}

// catalogShow is what `authz catalog show --format json` prints.
type catalogShow struct {
	Image      string            `json:"image"`
	Repository string            `json:"repository"`
	Tag        string            `json:"tag"`
	Digest     string            `json:"digest,omitempty"`
	Lookup     map[string]any    `json:"lookup,omitempty"`
	Source     map[string]any    `json:"source,omitempty"`
	Facts      map[string]string `json:"facts"`
	Entry      map[string]any    `json:"entry,omitempty"`
}

// shownFacts are the facts `catalog show` always lists, known or not.
var shownFacts = []string{"/bin/sh", "sh", "bash", "dash", "busybox", "curl", "wget", "nc", "sleep"}

func runCatalogShow(cmd *cobra.Command, ref string, o catalogShowOptions) error {
	ctx := cmd.Context()
	named := imagefacts.Named(ref)
	if named.Repository == "" {
		return usageError{fmt.Errorf("%q is not an image reference (repository[:tag][@digest])", ref)}
	}
	engine, err := newEngine(ctx, o.policyDirs)
	if err != nil {
		return err
	}
	in, err := ast.InterfaceToValue(map[string]any{"image": map[string]any{"repository": named.Repository, "tag": named.Tag}})
	if err != nil {
		return err
	}
	v, err := engine.Query(ctx, "data.hardened.lib.image.catalog_lookup", in)
	if err != nil {
		return err
	}
	show := catalogShow{Image: ref, Repository: named.Repository, Tag: named.Tag, Digest: named.Digest, Facts: map[string]string{}}
	if lk, ok := v.(map[string]any); ok {
		show.Lookup, _ = lk["match"].(map[string]any)
		show.Entry, _ = lk["entry"].(map[string]any)
		show.Source, _ = lk["source"].(map[string]any)
	}
	progs, _ := show.Entry["programs"].(map[string]any)
	names := slices.Clone(shownFacts)
	for _, p := range slices.Sorted(maps.Keys(progs)) {
		if !slices.Contains(names, p) {
			names = append(names, p)
		}
	}
	for _, p := range names {
		val, ok := progs[p]
		if p == "/bin/sh" || (p == "sh" && !ok) {
			// sh on PATH follows /bin/sh unless the entry says otherwise,
			// as in the policies (image_program)
			val, ok = show.Entry["shell"]
		}
		show.Facts[p] = "unknown"
		if b, isBool := val.(bool); ok && isBool {
			show.Facts[p] = fmt.Sprint(b)
		}
	}
	if o.format == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(show)
	}
	return writeCatalogShow(cmd.OutOrStdout(), show, names)
}

func writeCatalogShow(w io.Writer, s catalogShow, names []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "image:       %s\n", s.Image)
	tag := s.Tag
	if tag == "" {
		tag = "(none: digest only)"
	}
	fmt.Fprintf(&b, "repository:  %s\ntag:         %s\n", s.Repository, tag)
	if s.Entry == nil {
		fmt.Fprintf(&b, "catalog:     no entry; every fact is unknown and nothing is denied on the catalog's word\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "matched:     %s\n", describeMatch(s.Lookup))
	if s.Source != nil {
		fmt.Fprintf(&b, "source:      %v %v at commit %v (%v)\n", s.Source["name"], s.Source["repository"], s.Source["commit"], s.Source["date"])
	}
	for _, k := range []string{"family", "variant", "interpreter", "user", "workdir"} {
		if v, ok := s.Entry[k]; ok {
			fmt.Fprintf(&b, "%-12s %v\n", k+":", v)
		}
	}
	for _, k := range []string{"entrypoint", "cmd", "path"} {
		v, ok := s.Entry[k]
		if !ok {
			fmt.Fprintf(&b, "%-12s unknown\n", k+":")
			continue
		}
		j, _ := json.Marshal(v)
		fmt.Fprintf(&b, "%-12s %s\n", k+":", j)
	}
	b.WriteString("facts:\n")
	for _, p := range names {
		fmt.Fprintf(&b, "  %-11s %s\n", p, s.Facts[p])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describeMatch says in words how the lookup found the entry.
func describeMatch(m map[string]any) string {
	var parts []string
	if k, ok := m["key"]; ok {
		how := map[string]string{
			"tag": fmt.Sprintf("tag %v of %v", m["tag"], k),
			"dev": fmt.Sprintf("%v: tag not in the definitions, facts common to all its dev variants", k),
			"all": fmt.Sprintf("%v: tag not in the definitions (or digest only), facts common to all its variants", k),
		}[fmt.Sprint(m["how"])]
		parts = append(parts, "generated "+how)
	}
	if ok, _ := m["override"].(map[string]any); ok != nil {
		s := fmt.Sprintf("hand-written entry of data.catalog.%v, key %v, tag %v", ok["layer"], ok["key"], ok["tag"])
		if f, _ := ok["family"].(string); f != "" {
			s += ", family " + f
		}
		if b, _ := ok["basis"].(string); b != "" {
			s += " (basis: " + b + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, "; ")
}

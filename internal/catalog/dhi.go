package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// dhiDefinition is the part of a Docker Hardened Images definition
// (image/<name>/<distro>/<tag>.yaml) the catalog reads.
type dhiDefinition struct {
	Image    string   `yaml:"image"`
	Variant  string   `yaml:"variant"`
	Tags     []string `yaml:"tags"`
	Contents struct {
		Packages []string `yaml:"packages"`
		Files    []struct {
			Path string `yaml:"path"`
		} `yaml:"files"`
		Builds []yaml.Node `yaml:"builds"`
	} `yaml:"contents"`
	Accounts struct {
		RunAs string `yaml:"run-as"`
	} `yaml:"accounts"`
	OSRelease struct {
		ID string `yaml:"id"`
	} `yaml:"os-release"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Cmd         []string          `yaml:"cmd"`
	Environment map[string]string `yaml:"environment"`
	WorkDir     string            `yaml:"work-dir"`
	Paths       []struct {
		Type string `yaml:"type"`
		Path string `yaml:"path"`
	} `yaml:"paths"`
}

// errNotDefinition marks a YAML file under image/ that is no image
// definition (an application's configuration file shipped beside them).
var errNotDefinition = errors.New("not an image definition")

// ReadDHI reads a checkout of the Docker Hardened Images catalog: every
// image/<name>/<distro>/<tag>.yaml definition, and SOURCE.md.
//
// A definition's package list is taken as naming every package that can
// bring a tracked program (PackageSet.Complete): the builder adds the
// listed packages' library dependencies, and shells, busybox, coreutils,
// curl, wget and netcat are tools, not libraries anything in a hardened
// image depends on. Programs from build outputs, downloaded files and
// paths stay unknown.
func ReadDHI(dir string) (Source, []Image, error) {
	src, err := readSource(dir, "Docker Hardened Images", "Apache-2.0")
	if err != nil {
		return Source{}, nil, err
	}
	var images []Image
	root := filepath.Join(dir, "image")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		// image/<name>/<distro>/<tag>.yaml: deeper files are configuration.
		if d.IsDir() || !strings.HasSuffix(p, ".yaml") || strings.Count(filepath.ToSlash(rel), "/") != 3 {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		im, err := DecodeDHI(raw)
		if errors.Is(err, errNotDefinition) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		im.File = filepath.ToSlash(rel)
		images = append(images, im)
		return nil
	})
	if err != nil {
		return Source{}, nil, err
	}
	if len(images) == 0 {
		return Source{}, nil, fmt.Errorf("%s: no image definitions", root)
	}
	return src, images, nil
}

// DecodeDHI decodes one Docker Hardened Images definition into its image
// facts.
func DecodeDHI(raw []byte) (Image, error) {
	var def dhiDefinition
	if err := yaml.Unmarshal(raw, &def); err != nil {
		return Image{}, err
	}
	if def.Image == "" || len(def.Tags) == 0 {
		return Image{}, errNotDefinition
	}
	repo, ok := strings.CutPrefix(def.Image, "dhi.io/")
	if !ok || repo == "" || strings.ContainsAny(repo, ":@ ") {
		return Image{}, fmt.Errorf("image %q: want dhi.io/<name>", def.Image)
	}
	if def.Variant != "runtime" && def.Variant != "dev" {
		return Image{}, fmt.Errorf("variant %q: want runtime or dev", def.Variant)
	}
	distro := def.OSRelease.ID
	if distro != Debian && distro != Alpine {
		return Image{}, fmt.Errorf("os-release id %q: want debian or alpine", distro)
	}
	ps := PackageSet{Distro: distro, Complete: true, Packages: packageNames(def.Contents.Packages)}
	for _, f := range def.Contents.Files {
		ps.Extra = append(ps.Extra, Extra{Path: f.Path})
	}
	for _, b := range def.Contents.Builds {
		var build struct {
			Contents struct {
				Packages []string `yaml:"packages"`
			} `yaml:"contents"`
			Outputs []struct {
				Target string `yaml:"target"`
			} `yaml:"outputs"`
		}
		if err := b.Decode(&build); err != nil {
			return Image{}, fmt.Errorf("builds: %w", err)
		}
		text, err := buildText(&b)
		if err != nil {
			return Image{}, fmt.Errorf("builds: %w", err)
		}
		pkgs := packageNames(build.Contents.Packages)
		for _, o := range build.Outputs {
			ps.Extra = append(ps.Extra, Extra{Path: o.Target, Build: text, BuildPackages: pkgs})
		}
	}
	for _, p := range def.Paths {
		if p.Type != "directory" && p.Type != "delete" {
			ps.Extra = append(ps.Extra, Extra{Path: p.Path})
		}
	}
	f := Facts{
		Family:     "dhi-" + strings.ReplaceAll(repo, "/", "-"),
		Variant:    def.Variant,
		Entrypoint: nonNil(def.Entrypoint),
		Cmd:        nonNil(def.Cmd),
		User:       def.Accounts.RunAs,
		Workdir:    def.WorkDir,
	}
	if def.Variant == "dev" {
		f.Family += "-dev"
	}
	if p, ok := def.Environment["PATH"]; ok {
		f.Path = splitPath(p)
	}
	f.Shell, f.Programs = Programs(ps)
	argvPrograms(f.Entrypoint, f.Cmd, &f.Shell, f.Programs)
	f.Interpreter = interpreterOf(f.Programs)
	return Image{Repository: def.Image, Tags: slices.Clone(def.Tags), Facts: f}, nil
}

// buildText is a build's definition without its package list: its
// scripts, files and artifacts, which name what the build puts into its
// outputs beyond what its packages install.
func buildText(b *yaml.Node) (string, error) {
	var m map[string]any
	if err := b.Decode(&m); err != nil {
		return "", err
	}
	if c, ok := m["contents"].(map[string]any); ok {
		delete(c, "packages")
	}
	out, err := yaml.Marshal(m)
	return string(out), err
}

// packageNames turns a definition's package list into names: versions
// ("curl=8.14.1-r0") dropped, exclusions ("!dpkg": keep it out of the
// dependencies) left out.
func packageNames(list []string) []string {
	var names []string
	for _, p := range list {
		if strings.HasPrefix(p, "!") {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		if name = strings.TrimSpace(name); name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// interpreterOf names the image's interpreter from its programs.
func interpreterOf(programs map[string]bool) string {
	switch {
	case programs["node"]:
		return "node"
	case programs["python3"]:
		return "python3"
	}
	return ""
}

// nonNil turns "not configured" into "configured as none": an image's
// definition is its whole configuration.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func splitPath(p string) []string {
	out := []string{}
	for d := range strings.SplitSeq(p, ":") {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

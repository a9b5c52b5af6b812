// Package catalog builds the image catalog of hardened-authz from the
// vendors' own public image definitions: the Docker Hardened Images
// catalog (docker-hardened-images/catalog) and Chainguard's locked apko
// configurations (chainguard-images/images).
//
// Each image tag gets tri-state facts (true, false, or absent = unknown)
// about the programs a healthcheck may need: /bin/sh, bash, busybox, curl,
// wget, sleep, nc, its interpreter, and its configuration (entrypoint, cmd,
// user, workdir, PATH). The facts follow only from what a definition
// states: the package list (mapped conservatively, see Programs), the
// entrypoint and the environment. Anything else is left unknown, because
// the policies deny on an explicit false and a wrong false blocks a
// deployment.
//
// The result is written as policies/catalog/data.json (data.catalog): fact
// sets are deduplicated and every repository maps each tag to a fact set
// by index, so that a decision looks an exact repository and tag up in
// O(1) however large the catalog grows.
package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Facts is what the catalog states about one image tag. Nil and absent
// fields are unknown; only a present value is a claim.
type Facts struct {
	// Source names the definitions the facts come from ("dhi",
	// "chainguard"), a key of Catalog.Sources. Written per repository.
	Source string `json:"-"`
	// Family is a short name for messages and logs ("dhi-curl-dev").
	// Written per repository, without the "-dev" the variant adds.
	Family string `json:"-"`
	// Variant is "runtime" or "dev".
	Variant string `json:"variant,omitempty"`
	// Shell says whether /bin/sh exists.
	Shell *bool `json:"shell,omitempty"`
	// Programs maps a program's basename to whether it is on the image.
	// Written as two space-separated lists, "has" and "lacks": a string is
	// one value for the policy engine's store where an object of twenty
	// booleans is forty, and the catalog is loaded at every start.
	Programs map[string]bool `json:"-"`
	// Has and Lacks are Programs as written; Marshal fills them in.
	Has   string `json:"has,omitempty"`
	Lacks string `json:"lacks,omitempty"`
	// Interpreter is the argv[0] of a node or python the image ships.
	Interpreter string `json:"interpreter,omitempty"`
	// Entrypoint and Cmd are the image's configuration; nil is unknown, an
	// empty (non-nil) slice is "none".
	Entrypoint []string `json:"entrypoint,omitzero"`
	Cmd        []string `json:"cmd,omitzero"`
	// User is the user the image runs as ("nonroot", "65532").
	User string `json:"user,omitempty"`
	// Workdir is the image's working directory.
	Workdir string `json:"workdir,omitempty"`
	// Path is PATH from the image's environment, split at ":".
	Path []string `json:"path,omitzero"`
}

// encode fills Has and Lacks from Programs, sorted, for writing.
func (f Facts) encode() Facts {
	var has, lacks []string
	for _, p := range slices.Sorted(maps.Keys(f.Programs)) {
		if f.Programs[p] {
			has = append(has, p)
		} else {
			lacks = append(lacks, p)
		}
	}
	f.Has, f.Lacks = strings.Join(has, " "), strings.Join(lacks, " ")
	return f
}

// Decode fills Programs from Has and Lacks, as read from a written catalog.
func (f Facts) Decode() Facts {
	f.Programs = map[string]bool{}
	for p := range strings.FieldsSeq(f.Lacks) {
		f.Programs[p] = false
	}
	for p := range strings.FieldsSeq(f.Has) {
		f.Programs[p] = true
	}
	return f
}

// Source is where one vendor's definitions come from.
type Source struct {
	// Name is the vendor's image catalog ("Docker Hardened Images").
	Name string `json:"name"`
	// Repository is the URL of the public repository of definitions.
	Repository string `json:"repository"`
	// Commit and Date identify the snapshot the facts were built from.
	Commit string `json:"commit"`
	Date   string `json:"date,omitempty"`
	// License is the license of the definitions.
	License string `json:"license,omitempty"`
}

// Repository is one image repository of the catalog: its tags, and the
// fact sets for tags the definitions do not name.
type Repository struct {
	// Source is the key of Catalog.Sources the repository comes from.
	Source string `json:"source"`
	// Family names the repository in messages ("dhi-curl"); the policies
	// add "-dev" for a dev variant.
	Family string `json:"family"`
	// Tags maps every tag a definition names to an index of Catalog.Facts.
	Tags map[string]int `json:"tags"`
	// Dev indexes the facts common to every dev variant, for an unknown tag
	// ending in "-dev"; absent when the repository has no dev variant.
	Dev *int `json:"dev,omitempty"`
	// All indexes the facts common to every variant, for any other unknown
	// tag and a digest-only reference.
	All int `json:"all"`
}

// Catalog is the generated catalog, data.catalog in the policies.
type Catalog struct {
	// Description says what the file is, for whoever opens it.
	Description string `json:"description"`
	// Sources are the definitions the catalog was built from, by key.
	Sources map[string]Source `json:"sources"`
	// Facts are the distinct fact sets, which repositories index.
	Facts []Facts `json:"facts"`
	// Repositories are keyed by repository ("dhi.io/curl").
	Repositories map[string]*Repository `json:"repositories"`
}

// Image is the facts of one definition: a repository, the tags it names,
// and what holds for all of them.
type Image struct {
	Repository string
	Tags       []string
	Facts      Facts
	// File is the definition's path relative to the source directory, for
	// error messages and `authz catalog show`.
	File string
}

// Build reads the vendor definitions under dir (dhi-catalog/ and
// chainguard-images/, either may be missing but not both) and returns the
// catalog.
func Build(dir string) (*Catalog, error) {
	c := &Catalog{
		Description:  "Generated by `authz catalog build` from the vendors' public image definitions (see sources); do not edit: put hand-written facts in catalog/overrides/data.json. Each repository maps a tag to an index of facts; dev and all index the facts common to its dev variants and to all its variants. See docs/rules.md.",
		Sources:      map[string]Source{},
		Repositories: map[string]*Repository{},
	}
	var images []Image
	found := false
	for _, s := range []struct {
		key, sub string
		read     func(string) (Source, []Image, error)
	}{
		{"dhi", "dhi-catalog", ReadDHI},
		{"chainguard", "chainguard-images", ReadChainguard},
	} {
		root := filepath.Join(dir, s.sub)
		if _, err := os.Stat(root); err != nil {
			continue
		}
		found = true
		src, imgs, err := s.read(root)
		if err != nil {
			return nil, err
		}
		c.Sources[s.key] = src
		for i := range imgs {
			imgs[i].Facts.Source = s.key
		}
		images = append(images, imgs...)
	}
	if !found {
		return nil, fmt.Errorf("%s: neither dhi-catalog/ nor chainguard-images/ found", dir)
	}
	c.add(images)
	return c, nil
}

// add groups the images by repository, works out the meets and
// deduplicates the fact sets.
func (c *Catalog) add(images []Image) {
	byRepo := map[string][]Image{}
	for _, im := range images {
		byRepo[im.Repository] = append(byRepo[im.Repository], im)
	}
	index := map[string]int{}
	intern := func(f Facts) int {
		f = f.encode()
		k, _ := json.Marshal(f)
		if i, ok := index[string(k)]; ok {
			return i
		}
		c.Facts = append(c.Facts, f)
		index[string(k)] = len(c.Facts) - 1
		return len(c.Facts) - 1
	}
	for _, repo := range slices.Sorted(maps.Keys(byRepo)) {
		imgs := byRepo[repo]
		r := &Repository{Source: imgs[0].Facts.Source, Family: strings.TrimSuffix(imgs[0].Facts.Family, "-dev"), Tags: map[string]int{}}
		tagFacts := map[string]Facts{}
		var all, dev []Facts
		for _, im := range imgs {
			all = append(all, im.Facts)
			if im.Facts.Variant == "dev" {
				dev = append(dev, im.Facts)
			}
			for _, t := range im.Tags {
				if prev, ok := tagFacts[t]; ok {
					// Two definitions name the same tag: keep what both say.
					tagFacts[t] = Meet(prev, im.Facts)
					continue
				}
				tagFacts[t] = im.Facts
			}
		}
		for _, t := range slices.Sorted(maps.Keys(tagFacts)) {
			r.Tags[t] = intern(tagFacts[t])
		}
		r.All = intern(MeetAll(all))
		if len(dev) > 0 {
			d := intern(MeetAll(dev))
			r.Dev = &d
		}
		c.Repositories[repo] = r
	}
}

// Meet returns the facts a and b both state with the same value: what
// still holds when it is not known which of the two an image is.
func Meet(a, b Facts) Facts {
	m := Facts{}
	if a.Source == b.Source {
		m.Source = a.Source
	}
	if a.Family == b.Family {
		m.Family = a.Family
	} else {
		m.Family = commonFamily(a.Family, b.Family)
	}
	if a.Variant == b.Variant {
		m.Variant = a.Variant
	}
	if a.Shell != nil && b.Shell != nil && *a.Shell == *b.Shell {
		m.Shell = a.Shell
	}
	for p, v := range a.Programs {
		if w, ok := b.Programs[p]; ok && w == v {
			if m.Programs == nil {
				m.Programs = map[string]bool{}
			}
			m.Programs[p] = v
		}
	}
	if a.Interpreter == b.Interpreter {
		m.Interpreter = a.Interpreter
	}
	if a.Entrypoint != nil && slices.Equal(a.Entrypoint, b.Entrypoint) && b.Entrypoint != nil {
		m.Entrypoint = a.Entrypoint
	}
	if a.Cmd != nil && slices.Equal(a.Cmd, b.Cmd) && b.Cmd != nil {
		m.Cmd = a.Cmd
	}
	if a.User == b.User {
		m.User = a.User
	}
	if a.Workdir == b.Workdir {
		m.Workdir = a.Workdir
	}
	if a.Path != nil && slices.Equal(a.Path, b.Path) && b.Path != nil {
		m.Path = a.Path
	}
	return m
}

// MeetAll is Meet over every element of fs (the zero Facts for none).
func MeetAll(fs []Facts) Facts {
	if len(fs) == 0 {
		return Facts{}
	}
	m := fs[0]
	for _, f := range fs[1:] {
		m = Meet(m, f)
	}
	return m
}

// commonFamily keeps the shared "-dev"-less stem of two family names, so
// that the meet of "dhi-curl" and "dhi-curl-dev" is still "dhi-curl".
func commonFamily(a, b string) string {
	sa, sb := strings.TrimSuffix(a, "-dev"), strings.TrimSuffix(b, "-dev")
	if sa == sb {
		return sa
	}
	return ""
}

// Marshal encodes the catalog compactly: one line per fact set and per
// repository, so that a regenerated catalog diffs by repository.
func (c *Catalog) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\n")
	field := func(name string, v any, last bool) error {
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "  %q: %s", name, j)
		if !last {
			b.WriteString(",")
		}
		b.WriteString("\n")
		return nil
	}
	if err := field("description", c.Description, false); err != nil {
		return nil, err
	}
	if err := field("sources", c.Sources, false); err != nil {
		return nil, err
	}
	b.WriteString("  \"facts\": [\n")
	for i, f := range c.Facts {
		j, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		b.WriteString("    ")
		b.Write(j)
		if i < len(c.Facts)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  ],\n  \"repositories\": {\n")
	keys := slices.Sorted(maps.Keys(c.Repositories))
	for i, k := range keys {
		j, err := json.Marshal(c.Repositories[k])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "    %q: %s", k, j)
		if i < len(keys)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  }\n}\n")
	return b.Bytes(), nil
}

// Stats counts what a catalog claims, for `authz catalog build`.
type Stats struct {
	Repositories, Tags, FactSets int
	// Shell and Curl count tags by what they say of /bin/sh and curl:
	// [true, false, unknown].
	Shell, Curl [3]int
}

// Stats counts the catalog's repositories, tags and claims.
func (c *Catalog) Stats() Stats {
	s := Stats{Repositories: len(c.Repositories), FactSets: len(c.Facts)}
	tri := func(v *bool) int {
		switch {
		case v == nil:
			return 2
		case *v:
			return 0
		}
		return 1
	}
	for _, r := range c.Repositories {
		for _, i := range r.Tags {
			s.Tags++
			f := c.Facts[i].Decode()
			s.Shell[tri(f.Shell)]++
			var curl *bool
			if v, ok := f.Programs["curl"]; ok {
				curl = &v
			}
			s.Curl[tri(curl)]++
		}
	}
	return s
}

// sourceLine matches the "github.com/<owner>/<repo> at commit <sha>
// (<date>)" sentence of a SOURCE.md.
var sourceLine = regexp.MustCompile(`(github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+) at commit ([0-9a-f]{40})(?: \(([^)]*)\))?`)

// readSource reads the provenance of a source directory from its
// SOURCE.md: the repository, commit and date it was taken from.
func readSource(dir, name, license string) (Source, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "SOURCE.md"))
	if err != nil {
		return Source{}, fmt.Errorf("provenance of %s: %w", dir, err)
	}
	m := sourceLine.FindSubmatch(bytes.Join(bytes.Fields(raw), []byte(" ")))
	if m == nil {
		return Source{}, fmt.Errorf("%s: no \"github.com/OWNER/REPO at commit SHA\" line", filepath.Join(dir, "SOURCE.md"))
	}
	return Source{Name: name, Repository: "https://" + string(m[1]), Commit: string(m[2]), Date: string(m[3]), License: license}, nil
}

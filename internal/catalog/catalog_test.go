package catalog

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

const fixture = "../../testdata/catalog"

// written is the catalog as the policies read it: Build, Marshal, and back
// through plain JSON, so that the test checks what is shipped.
type written struct {
	Sources      map[string]Source `json:"sources"`
	Facts        []Facts           `json:"facts"`
	Repositories map[string]struct {
		Source string         `json:"source"`
		Family string         `json:"family"`
		Tags   map[string]int `json:"tags"`
		Dev    *int           `json:"dev"`
		All    int            `json:"all"`
	} `json:"repositories"`
}

func buildFixture(t *testing.T) written {
	t.Helper()
	c, err := Build(fixture)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var w written
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatalf("the written catalog is not JSON: %v", err)
	}
	return w
}

// facts returns the written facts of repo:tag ("" for the facts of all
// variants).
func (w written) facts(t *testing.T, repo, tag string) Facts {
	t.Helper()
	r, ok := w.Repositories[repo]
	if !ok {
		t.Fatalf("no repository %s", repo)
	}
	i := r.All
	if tag != "" {
		if i, ok = r.Tags[tag]; !ok {
			t.Fatalf("%s has no tag %q", repo, tag)
		}
	}
	return w.Facts[i].Decode()
}

// definition is what the test reads from a vendor definition itself,
// without the generator's decoder or mapping.
type definition struct {
	file       string
	repo       string
	tags       []string
	distro     string
	packages   []string
	extra      []string // paths added outside packages
	entrypoint []string
	cmd        []string
}

func (d definition) has(pkg string) bool { return slices.Contains(d.packages, pkg) }

// argv0 is the program the image runs.
func (d definition) argv0() string {
	if len(d.entrypoint) > 0 {
		return d.entrypoint[0]
	}
	if len(d.cmd) > 0 {
		return d.cmd[0]
	}
	return ""
}

func readDHIDefinitions(t *testing.T) []definition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixture, "dhi-catalog", "image", "*", "*", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no DHI definitions in the fixture (%v)", err)
	}
	var defs []definition
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		d := definition{file: f, repo: m["image"].(string), distro: m["os-release"].(map[string]any)["id"].(string)}
		for _, tg := range m["tags"].([]any) {
			d.tags = append(d.tags, tg.(string))
		}
		contents := m["contents"].(map[string]any)
		for _, p := range contents["packages"].([]any) {
			if s := p.(string); !strings.HasPrefix(s, "!") {
				d.packages = append(d.packages, strings.SplitN(s, "=", 2)[0])
			}
		}
		builds, _ := contents["builds"].([]any)
		for _, b := range builds {
			outs, _ := b.(map[string]any)["outputs"].([]any)
			for _, o := range outs {
				d.extra = append(d.extra, o.(map[string]any)["target"].(string))
			}
		}
		d.entrypoint, d.cmd = strs(m["entrypoint"]), strs(m["cmd"])
		defs = append(defs, d)
	}
	return defs
}

func readChainguardDefinitions(t *testing.T) []definition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixture, "chainguard-images", "images", "*", "locked_config.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Chainguard configurations in the fixture (%v)", err)
	}
	var defs []definition
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for repoKey, locks := range m["repoTags"].(map[string]any) {
			for lock, tags := range locks.(map[string]any) {
				l := m["imageLocks"].(map[string]any)[lock].(map[string]any)
				for variant, suffix := range map[string]string{"configs": "", "devConfigs": "-dev"} {
					cfgs, _ := l[variant].(map[string]any)
					if len(cfgs) == 0 {
						continue
					}
					// every architecture lists the same tools in these two
					var c map[string]any
					if err := json.Unmarshal([]byte(cfgs["amd64"].(string)), &c); err != nil {
						t.Fatal(err)
					}
					cfg := c["config"].(map[string]any)
					d := definition{file: f + " " + lock + " " + variant, repo: "cgr.dev/chainguard/" + strings.TrimPrefix(repoKey, "public/"), distro: "wolfi"}
					for _, tg := range tags.([]any) {
						d.tags = append(d.tags, tg.(string)+suffix)
					}
					for _, p := range cfg["contents"].(map[string]any)["packages"].([]any) {
						d.packages = append(d.packages, strings.SplitN(p.(string), "=", 2)[0])
					}
					d.entrypoint = strings.Fields(cfg["entrypoint"].(map[string]any)["command"].(string))
					d.cmd = strings.Fields(cfg["cmd"].(string))
					defs = append(defs, d)
				}
			}
		}
	}
	return defs
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

// TestGeneratedClaimsFollowTheDefinitions checks every curl and shell claim
// the generator makes for the fixture's images against the definition it
// came from, read independently: a "true" needs a package or the image's
// own argv that provides it, a "false" needs the definition to have no
// package or output that could.
func TestGeneratedClaimsFollowTheDefinitions(t *testing.T) {
	w := buildFixture(t)
	defs := append(readDHIDefinitions(t), readChainguardDefinitions(t)...)
	shellPackages := []string{"bash", "dash", "busybox", "busybox-binsh", "mksh", "zsh", "toybox"}
	claims := 0
	for _, d := range defs {
		for _, tag := range d.tags {
			f := w.facts(t, d.repo, tag)
			where := d.file + " tag " + tag
			if v, ok := f.Programs["curl"]; ok {
				claims++
				runsCurl := path.Base(d.argv0()) == "curl"
				if v && !d.has("curl") && !runsCurl {
					t.Errorf("%s: curl true, but no curl package and the image does not run curl", where)
				}
				if !v && (d.has("curl") || runsCurl || slices.ContainsFunc(d.extra, func(p string) bool { return path.Base(p) == "curl" || p == "/" })) {
					t.Errorf("%s: curl false, but the definition has curl", where)
				}
			}
			if f.Shell != nil {
				claims++
				anyShell := slices.ContainsFunc(shellPackages, d.has)
				if *f.Shell {
					// a shell only where /bin/sh is certain: the image runs
					// it, or Wolfi's busybox links it
					if d.argv0() != "/bin/sh" && !(d.distro == "wolfi" && d.has("busybox")) {
						t.Errorf("%s: /bin/sh true without /bin/sh in argv or Wolfi's busybox", where)
					}
				} else if anyShell || path.Base(d.argv0()) == "sh" || path.Base(d.argv0()) == "bash" {
					t.Errorf("%s: /bin/sh false, but the definition has a shell package or runs a shell", where)
				}
			}
			if d.distro != "wolfi" && f.Shell != nil && *f.Shell && d.argv0() != "/bin/sh" {
				t.Errorf("%s: a Debian or Alpine shell claimed from packages alone", where)
			}
			if !slices.Equal(f.Entrypoint, d.entrypoint) && (len(f.Entrypoint) > 0 || len(d.entrypoint) > 0) {
				t.Errorf("%s: entrypoint %q, the definition says %q", where, f.Entrypoint, d.entrypoint)
			}
		}
	}
	if claims < 20 {
		t.Errorf("only %d curl/shell claims checked: the fixture lost its images?", claims)
	}
}

// TestFixtureImages pins what the generator says of the fixture's images,
// each fact checked against the definition by hand.
func TestFixtureImages(t *testing.T) {
	w := buildFixture(t)
	yes, no := true, false
	for _, c := range []struct {
		repo, tag string
		shell     *bool // nil: unknown
		has, lack []string
		unknown   []string
	}{
		// curl runtime: base-files, ca-certificates, curl
		{"dhi.io/curl", "8", &no, []string{"curl"}, []string{"bash", "busybox", "wget", "sleep", "nc"}, nil},
		// curl dev: bash and coreutils but no dash: /bin/sh unknown
		{"dhi.io/curl", "8-debian13-dev", nil, []string{"curl", "bash", "sleep"}, []string{"busybox", "dash", "wget"}, []string{"sh"}},
		{"dhi.io/curl", "8-alpine3.23", &no, []string{"curl"}, []string{"bash", "busybox", "wget"}, nil},
		// gitea ships curl, bash and busybox (alpine: /bin/sh is busybox-binsh, not listed)
		{"dhi.io/gitea", "1-alpine3.24", nil, []string{"curl", "bash", "busybox"}, []string{"dash"}, []string{"wget", "sleep"}},
		{"dhi.io/gitea", "1", nil, []string{"curl", "bash"}, nil, nil},
		// opensearch: bash, coreutils, no curl
		{"dhi.io/opensearch", "3", nil, []string{"bash", "sleep"}, []string{"curl", "wget"}, nil},
		// postgres alpine: bash and busybox; pg_isready comes from postgresql17, not a tracked package
		{"dhi.io/postgres", "17-alpine3.23", nil, []string{"bash", "busybox"}, []string{"curl", "dash"}, []string{"pg_isready", "wget"}},
		// node runtime: nothing but node
		{"dhi.io/node", "24", &no, []string{"node"}, []string{"curl", "wget", "bash", "busybox", "sleep"}, nil},
		{"dhi.io/node", "24-dev", nil, []string{"node", "bash", "sleep"}, []string{"curl", "wget"}, nil},
		// Chainguard (Wolfi): busybox links /bin/sh
		{"cgr.dev/chainguard/postgres", "latest", &yes, []string{"bash", "busybox", "sleep"}, []string{"curl"}, nil},
		{"cgr.dev/chainguard/nginx", "latest", &no, []string{"nginx"}, []string{"curl", "wget", "busybox", "bash"}, nil},
		{"cgr.dev/chainguard/nginx", "latest-dev", &yes, []string{"wget", "busybox"}, []string{"curl"}, nil},
		// every variant of nginx lacks curl: so does a digest-only reference
		{"cgr.dev/chainguard/nginx", "", nil, []string{"nginx"}, []string{"curl"}, []string{"wget"}},
	} {
		f := w.facts(t, c.repo, c.tag)
		name := c.repo + ":" + c.tag
		if (f.Shell == nil) != (c.shell == nil) || (f.Shell != nil && *f.Shell != *c.shell) {
			t.Errorf("%s: shell %v, want %v", name, show(f.Shell), show(c.shell))
		}
		for _, p := range c.has {
			if v, ok := f.Programs[p]; !ok || !v {
				t.Errorf("%s: %s should be present (%v)", name, p, f.Programs)
			}
		}
		for _, p := range c.lack {
			if v, ok := f.Programs[p]; !ok || v {
				t.Errorf("%s: %s should be missing (%v)", name, p, f.Programs)
			}
		}
		for _, p := range c.unknown {
			if _, ok := f.Programs[p]; ok {
				t.Errorf("%s: %s should be unknown (%v)", name, p, f.Programs)
			}
		}
	}
	if f := w.facts(t, "dhi.io/node", "24"); f.Interpreter != "node" || !slices.Equal(f.Cmd, []string{"node"}) || f.User != "node" || f.Workdir != "/app" {
		t.Errorf("dhi.io/node:24 configuration: %+v", f)
	}
	if f := w.facts(t, "cgr.dev/chainguard/nginx", "latest"); !slices.Equal(f.Cmd, []string{"-c", "/etc/nginx/nginx.conf", "-e", "/dev/stderr", "-g", "daemon off;"}) || f.User != "65532" {
		t.Errorf("nginx cmd not split as apko does: %q", f.Cmd)
	}
	if dev := w.Repositories["dhi.io/curl"].Dev; dev == nil || w.Facts[*dev].Decode().Programs["curl"] != true {
		t.Errorf("dhi.io/curl: the dev facts should say curl")
	}
	for key, commit := range map[string]string{"dhi": "30c3db971dffbab14c3e400e021e76c27ef950fe", "chainguard": "cd7edd236bf1738260cf528cd8886f5353c3a3b8"} {
		s := w.Sources[key]
		if s.Commit != commit || !strings.HasPrefix(s.Repository, "https://github.com/") || s.Date == "" {
			t.Errorf("source %s: %+v", key, s)
		}
	}
	if w.Repositories["dhi.io/curl"].Source != "dhi" || w.Repositories["cgr.dev/chainguard/nginx"].Source != "chainguard" {
		t.Errorf("repositories should name their source")
	}
}

func show(b *bool) string {
	if b == nil {
		return "unknown"
	}
	if *b {
		return "true"
	}
	return "false"
}

func TestBuildNeedsASource(t *testing.T) {
	if _, err := Build(t.TempDir()); err == nil {
		t.Fatal("a directory without definitions should fail")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "dhi-catalog", "image"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(dir); err == nil || !strings.Contains(err.Error(), "SOURCE.md") {
		t.Fatalf("no provenance should fail, got %v", err)
	}
}

func TestMarshalIsCompactAndDeduplicated(t *testing.T) {
	c, err := Build(fixture)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range c.Facts {
		k, _ := json.Marshal(f.encode())
		if seen[string(k)] {
			t.Errorf("fact set written twice: %s", k)
		}
		seen[string(k)] = true
	}
	tags := 0
	for _, r := range c.Repositories {
		tags += len(r.Tags)
	}
	if len(c.Facts) >= tags {
		t.Errorf("%d fact sets for %d tags: tags of one definition should share theirs", len(c.Facts), tags)
	}
}

// TestShippedCatalog checks the catalog the policies embed: every index
// in range, every source named, the hand-written overrides each with the
// public definition they rest on.
func TestShippedCatalog(t *testing.T) {
	raw, err := os.ReadFile("../../policies/catalog/data.json")
	if err != nil {
		t.Fatal(err)
	}
	var w written
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	if len(w.Repositories) == 0 || len(w.Sources) == 0 {
		t.Fatal("the shipped catalog is empty")
	}
	for name, s := range w.Sources {
		if len(s.Commit) != 40 || !strings.HasPrefix(s.Repository, "https://github.com/") {
			t.Errorf("source %s: %+v", name, s)
		}
	}
	inRange := func(i int) bool { return i >= 0 && i < len(w.Facts) }
	for repo, r := range w.Repositories {
		if _, ok := w.Sources[r.Source]; !ok || r.Family == "" || !inRange(r.All) || (r.Dev != nil && !inRange(*r.Dev)) {
			t.Errorf("%s: %+v", repo, r)
		}
		for tag, i := range r.Tags {
			if !inRange(i) || tag == "" {
				t.Errorf("%s:%s -> %d", repo, tag, i)
			}
		}
	}

	raw, err = os.ReadFile("../../policies/catalog/overrides/data.json")
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		SidecarImage string                      `json:"sidecar_image"`
		Images       map[string][]map[string]any `json:"images"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	if o.SidecarImage == "" || len(o.Images) == 0 {
		t.Fatalf("overrides: %s", raw)
	}
	for key, entries := range o.Images {
		for _, e := range entries {
			if b, _ := e["basis"].(string); !strings.Contains(b, "github.com/") {
				t.Errorf("override %s %v names no public definition as its basis", key, e["tag"])
			}
		}
	}
}

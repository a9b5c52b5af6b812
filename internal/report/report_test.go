package report

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/check"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// fixture is a report over two compose files under base: two errors in
// the first, one warning in the second, listed out of order.
func fixture(base string) check.Report {
	web := filepath.Join(base, "compose.yaml")
	side := filepath.Join(base, "deploy", "compose.prod.yaml")
	return check.Report{
		Findings: []check.Finding{
			{
				Rule: "HA008", Severity: "warning", Title: "sidecar without a memory limit",
				Project: "shop", Service: "web-health", Image: "dhi.io/curl:8-debian13-dev", ImageSource: "catalog",
				File: side, Line: 20, Column: 5,
				Message: `HA008: sidecar "web-health" has no memory limit`,
				Fix:     policy.Fix{Summary: "Set mem_limit on the sidecar.", Compose: "web-health:\n  mem_limit: 32m\n"},
			},
			{
				Rule: "HA002", Severity: "error", Title: "healthcheck program missing from the image",
				Project: "shop", Service: "web", Image: "dhi.io/nginx:1", ImageSource: "index",
				File: web, Line: 12, Column: 7,
				Message: `HA002: service "web": image dhi.io/nginx:1 has no "curl"`,
				Fix: policy.Fix{
					Summary:     `Move the probe into a curl sidecar for service "web".`,
					Compose:     "web-health:\n  image: dhi.io/curl:8-debian13-dev\n  network_mode: \"service:web\"\n",
					Alternative: "Use the -dev variant of the image.",
					Actions: []policy.Action{{
						Op: policy.ActionAddSidecar, Service: "web", Name: "web-health",
						Image: "dhi.io/curl:8-debian13-dev", Test: []string{"CMD", "curl", "-f", "http://localhost/"},
						Interval: "30s", MemLimit: "32m", AppHealthcheck: "remove",
					}},
				},
			},
			{
				Rule: "HA001", Severity: "error", Title: "CMD-SHELL healthcheck in an image without a shell",
				Project: "shop", Service: "db", Image: "dhi.io/postgres:17",
				File: web, Line: 30, Column: 0,
				Message: `HA001: service "db": CMD-SHELL healthcheck, image has no shell`,
				Fix:     policy.Fix{Summary: "Rewrite the healthcheck in exec form."},
			},
		},
		Summary: check.Summary{Projects: 1, Files: 2, Services: 4, Errors: 2, Warnings: 1},
	}
}

func render(t *testing.T, format string, r check.Report, o Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, format, r, o); err != nil {
		t.Fatalf("Write(%s): %v", format, err)
	}
	return buf.String()
}

func TestUnknownFormat(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, "yaml", check.Report{}, Options{})
	if err == nil {
		t.Fatal("want an error for format yaml")
	}
	for _, f := range append([]string{`"yaml"`}, Formats...) {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %q on error", buf.String())
	}
}

func TestEmptyFormatIsTheDefault(t *testing.T) {
	r := fixture(t.TempDir())
	if got, want := render(t, "", r, Options{}), render(t, Formats[0], r, Options{}); got != want {
		t.Errorf("format \"\" rendered\n%s\nwant the %s format\n%s", got, Formats[0], want)
	}
}

// Every format renders the same bytes whatever order the findings come
// in, and none reorders the caller's slice.
func TestDeterministic(t *testing.T) {
	base := t.TempDir()
	r := fixture(base)
	// Duplicate positions so that only the tie-breakers order them.
	extra := r.Findings[1]
	extra.Service, extra.Message = "api", "HA002: service \"api\""
	r.Findings = append(r.Findings, extra, check.Finding{Rule: "HA003", Severity: "error", Project: "other", Service: "x"})
	o := Options{BaseDir: base, Version: "1.2.3", Color: true}
	for _, format := range Formats {
		want := render(t, format, r, o)
		for i := range 20 {
			shuffled := slices.Clone(r.Findings)
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
			before := slices.Clone(shuffled)
			got := render(t, format, check.Report{Findings: shuffled, Summary: r.Summary}, o)
			if got != want {
				t.Fatalf("%s: shuffle %d rendered differently:\n%s\nwant\n%s", format, i, got, want)
			}
			for j := range before {
				if before[j].Rule != shuffled[j].Rule || before[j].Service != shuffled[j].Service {
					t.Fatalf("%s: Write reordered the caller's findings", format)
				}
			}
		}
	}
}

func TestJSON(t *testing.T) {
	r := fixture("/src")
	out := render(t, "json", r, Options{BaseDir: "/src"})
	if !strings.HasSuffix(out, "}\n") || !strings.HasPrefix(out, "{\n  \"findings\": [") {
		t.Errorf("want a two-space indented object ending in a newline, got\n%s", out)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatal(err)
	}
	if len(top) != 2 || top["findings"] == nil || top["summary"] == nil {
		t.Errorf("top-level keys: want findings and summary, got %v", slices.Collect(mapKeys(top)))
	}
	var back check.Report
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatal(err)
	}
	want := sorted(r.Findings)
	if back.Summary != r.Summary {
		t.Errorf("summary = %+v, want %+v", back.Summary, r.Summary)
	}
	if len(back.Findings) != len(want) {
		t.Fatalf("got %d findings, want %d", len(back.Findings), len(want))
	}
	for i := range want {
		// Paths under the base directory are relative, as in every format.
		if rel, err := filepath.Rel("/src", want[i].File); err == nil && filepath.IsLocal(rel) {
			want[i].File = rel
		}
		if !equalFinding(back.Findings[i], want[i]) {
			t.Errorf("finding %d = %+v\nwant %+v", i, back.Findings[i], want[i])
		}
	}
	if !strings.Contains(out, `"actions": [`) || !strings.Contains(out, `"op": "add_sidecar"`) {
		t.Errorf("fix actions missing:\n%s", out)
	}
	if strings.Contains(out, `\u003c`) || !strings.Contains(out, `\"service:web\"`) {
		t.Errorf("messages should be written as they are:\n%s", out)
	}
}

func TestJSONEmpty(t *testing.T) {
	out := render(t, "json", check.Report{}, Options{})
	want := "{\n  \"findings\": [],\n  \"summary\": {\n    \"projects\": 0,\n    \"files\": 0,\n    \"services\": 0,\n    \"errors\": 0,\n    \"warnings\": 0,\n    \"fixed\": 0\n  }\n}\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func equalFinding(a, b check.Finding) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestPaths(t *testing.T) {
	base := filepath.FromSlash("/work/proj")
	p := newPaths(base)
	for _, c := range []struct {
		file, display, uri string
		relative           bool
	}{
		{"/work/proj/compose.yaml", "compose.yaml", "compose.yaml", true},
		{"/work/proj/sub dir/a#b.yaml", "sub dir/a#b.yaml", "sub%20dir/a%23b.yaml", true},
		{"/work/project/compose.yaml", "/work/project/compose.yaml", "file:///work/project/compose.yaml", false},
		{"/elsewhere/c.yaml", "/elsewhere/c.yaml", "file:///elsewhere/c.yaml", false},
		{"/work/proj/..x/c.yaml", "..x/c.yaml", "..x/c.yaml", true},
		{"/work/proj/a:b.yaml", "a:b.yaml", "./a:b.yaml", true},
		{"/work/proj/d/a:b.yaml", "d/a:b.yaml", "d/a:b.yaml", true},
	} {
		file := filepath.FromSlash(c.file)
		if got := p.display(file); got != c.display {
			t.Errorf("display(%q) = %q, want %q", c.file, got, c.display)
		}
		uri, rel := p.uri(file)
		if uri != c.uri || rel != c.relative {
			t.Errorf("uri(%q) = %q, %v; want %q, %v", c.file, uri, rel, c.uri, c.relative)
		}
	}
	if got := p.baseURI(); got != "file:///work/proj/" {
		t.Errorf("baseURI = %q", got)
	}
	// Without a base, paths are left as given.
	none := newPaths("")
	if got := none.display("a/b.yaml"); got != "a/b.yaml" {
		t.Errorf("display without base = %q", got)
	}
	if got := none.display("/a/b.yaml"); got != "/a/b.yaml" {
		t.Errorf("display without base = %q", got)
	}
	// A relative file is relative to the working directory.
	wd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if got := newPaths(wd).display(filepath.Join("x", "compose.yaml")); got != "x/compose.yaml" {
		t.Errorf("relative file under the working directory: %q", got)
	}
}

func TestPascal(t *testing.T) {
	for title, want := range map[string]string{
		"CMD-SHELL healthcheck in an image without a shell": "CmdShellHealthcheckInAnImageWithoutAShell",
		"sidecar's own program missing from its image":      "SidecarSOwnProgramMissingFromItsImage",
		"":     "HA001",
		" -- ": "HA001",
		"über": "Über",
	} {
		if got := pascal(title, "HA001"); got != want {
			t.Errorf("pascal(%q) = %q, want %q", title, got, want)
		}
	}
}

func TestRelPath(t *testing.T) {
	for _, tc := range [][3]string{
		{"/src", "/src/app/compose.yaml", "app/compose.yaml"},
		{"/src", "/srcx/compose.yaml", "/srcx/compose.yaml"},
		{"/src", "/other/compose.yaml", "/other/compose.yaml"},
	} {
		if got := RelPath(tc[0], tc[1]); got != tc[2] {
			t.Errorf("RelPath(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

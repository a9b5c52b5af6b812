package enforce

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

const sample = `# accepted findings, reviewed quarterly
exceptions:
  - rules: [HA002]
    image: dhi.io/node
    compose_project: shop
    compose_service: api
    reason: probe moves to a sidecar in SHOP-142
    owner: team-shop
    expires: 2027-03-01
  - rules: [HA008, HA007]
    container: "*-health-*"
    reason: sidecars sized by the platform
  - rules: [HA002]
    image: redis
    reason: old
    expires: 2027-02-28
  - rules: [HA001]
    digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    reason: pinned legacy build
    expires: 2027-03-01T12:00:00Z
`

func TestParseExceptions(t *testing.T) {
	x, warnings, err := ParseExceptions("exceptions.yaml", []byte(sample), now)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 4 {
		t.Fatalf("%d exceptions, want 4", x.Len())
	}
	e := x.List[0]
	if e.Image != "dhi.io/node" || e.ComposeProject != "shop" || e.ComposeService != "api" || e.Owner != "team-shop" || e.Line != 3 {
		t.Errorf("first exception: %+v", e)
	}
	if want := time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC); !e.Expires.Equal(want) {
		t.Errorf("a date expires at the end of that day UTC: got %s, want %s", e.Expires, want)
	}
	if x.List[2].Image != "docker.io/library/redis" {
		t.Errorf("image is normalized as Docker does: got %q", x.List[2].Image)
	}
	// The third expired the day before; the fourth at noon, which is now.
	if len(warnings) != 2 || !strings.Contains(warnings[0], "exceptions.yaml:13: exception 3 (HA002) expired 2027-02-28") ||
		!strings.Contains(warnings[1], "exception 4 (HA001) expired 2027-03-01T12:00:00Z") {
		t.Errorf("warnings: %q", warnings)
	}
}

func TestJSONIsAccepted(t *testing.T) {
	x, _, err := ParseExceptions("x.json", []byte(`{"exceptions": [{"rules": ["HA002"], "compose_service": "api", "reason": "r"}]}`), now)
	if err != nil || x.Len() != 1 || x.List[0].ComposeService != "api" {
		t.Fatalf("%+v %v", x, err)
	}
}

func TestExpiryBoundary(t *testing.T) {
	x, _, err := ParseExceptions("x", []byte("exceptions:\n- {rules: [R1], container: c, reason: r, expires: 2027-03-01}\n"), now)
	if err != nil {
		t.Fatal(err)
	}
	e := &x.List[0]
	end := time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC)
	if e.Expired(end.Add(-time.Nanosecond)) {
		t.Error("expired before the end of its day")
	}
	if !e.Expired(end) {
		t.Error("still applies once its day is over")
	}
	// The end of the day is UTC's, whatever zone the clock reads in.
	if e.Expired(time.Date(2027, 3, 1, 23, 0, 0, 0, time.FixedZone("UTC+5", 5*3600))) {
		t.Error("a clock in another zone moved the expiry")
	}
}

func TestMalformedExceptionsNameTheLineAndField(t *testing.T) {
	for _, tt := range []struct{ name, file, want string }{
		{"empty", "", "empty"},
		{"not a mapping", "- a\n", "x:1:1: want a mapping"},
		{"unknown top-level", "exceptions: []\nrules: []\n", `x:2:1: rules: unknown key`},
		{"missing list", "{}\n", "exceptions: missing"},
		{"list not a list", "exceptions: {}\n", "x:1:13: exceptions: want a list"},
		{"entry not a mapping", "exceptions:\n  - HA002\n", "x:2:5: exceptions[0]: want a mapping"},
		{"unknown key", "exceptions:\n  - rules: [HA002]\n    reason: r\n    imgae: dhi.io/node\n", "x:4:5: exceptions[0].imgae: unknown key"},
		{"no rules", "exceptions:\n  - reason: r\n    image: a\n", "x:2:5: exceptions[0].rules: missing"},
		{"empty rules", "exceptions:\n  - rules: []\n    reason: r\n    image: a\n", "x:2:12: exceptions[0].rules: empty"},
		{"rules not a list", "exceptions:\n  - rules: HA002\n    reason: r\n    image: a\n", "x:2:12: exceptions[0].rules: want a list"},
		{"bad rule ID", "exceptions:\n  - rules: [\"HA 002\"]\n    reason: r\n    image: a\n", "x:2:13: exceptions[0].rules[0]: \"HA 002\" is not a rule ID"},
		{"plugin rule", "exceptions:\n  - rules: [HA002, HA090]\n    reason: r\n    image: a\n", "x:2:20: exceptions[0].rules[1]: HA090 is one of the plugin's own rules"},
		{"no reason", "exceptions:\n  - rules: [HA002]\n    image: a\n", "x:2:5: exceptions[0].reason: missing"},
		{"empty reason", "exceptions:\n  - rules: [HA002]\n    image: a\n    reason:\n", "x:4:12: exceptions[0].reason: empty"},
		{"reason a list", "exceptions:\n  - rules: [HA002]\n    image: a\n    reason: [a]\n", "x:4:13: exceptions[0].reason: want a single value"},
		{"no selector", "exceptions:\n  - rules: [HA002]\n    reason: r\n", "x:2:5: exceptions[0]: no selector"},
		{"bad date", "exceptions:\n  - rules: [HA002]\n    image: a\n    reason: r\n    expires: 2027-13-01\n", "x:5:14: exceptions[0].expires: \"2027-13-01\" is not a date"},
		{"tagged image", "exceptions:\n  - rules: [HA002]\n    image: dhi.io/node:24\n    reason: r\n", "x:3:12: exceptions[0].image: \"dhi.io/node:24\" has a tag"},
		{"bad image", "exceptions:\n  - rules: [HA002]\n    image: Not/Valid\n    reason: r\n", "x:3:12: exceptions[0].image: \"Not/Valid\" is not an image repository"},
		{"bad digest", "exceptions:\n  - rules: [HA002]\n    digest: sha256:abc\n    reason: r\n", "x:3:13: exceptions[0].digest: \"sha256:abc\" is not a digest"},
		{"duplicate key", "exceptions:\n  - rules: [HA002]\n    image: a\n    image: b\n    reason: r\n", "exceptions[0].image: given twice"},
		{"second entry", "exceptions:\n  - {rules: [A1], image: a, reason: r}\n  - {rules: [A1], image: a}\n", "x:3:5: exceptions[1].reason: missing"},
		{"two documents", "exceptions: []\n---\nexceptions: []\n", "a second YAML document"},
		{"syntax", "exceptions: [\n", "x: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseExceptions("x", []byte(tt.file), now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadExceptions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "exceptions.yaml")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	x, warnings, err := LoadExceptions(path, now)
	if err != nil || x.File != path || x.Len() != 4 || len(warnings) != 2 {
		t.Fatalf("%v %v %v", x, warnings, err)
	}
	if !strings.HasPrefix(warnings[0], path+":13:") {
		t.Errorf("warning does not name the file and line: %q", warnings[0])
	}
	if _, _, err := LoadExceptions(dir, now); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	if _, _, err := LoadExceptions(filepath.Join(dir, "missing.yaml"), now); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, name string
		want          bool
	}{
		{"dhi.io/*", "dhi.io/node", true},
		{"dhi.io/*", "dhi.io/team/node", true},
		{"dhi.io/*", "docker.io/library/node", false},
		{"*-health-?", "shop-api-health-1", true},
		{"*-health-?", "shop-api-health-12", false},
		{"*", "", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"?", "é", true},
		{"docker.io/library/redis", "docker.io/library/redis", true},
	} {
		if got := globMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// FuzzParseExceptions feeds the loader arbitrary files: it must never
// panic, and whatever it accepts must be usable as documented.
func FuzzParseExceptions(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"exceptions": [{"rules": ["HA002"], "image": "dhi.io/*", "reason": "r"}]}`))
	f.Add([]byte("exceptions:\n  - &a {rules: [A1], image: a, reason: r}\n  - *a\n"))
	f.Add([]byte("exceptions: [{rules: [A1], container: '*', reason: r, expires: 2027-03-01T00:00:00+02:00}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, _, err := ParseExceptions("fuzz", data, now)
		if err != nil {
			if x != nil {
				t.Fatal("an error with exceptions")
			}
			return
		}
		for i, e := range x.List {
			if len(e.Rules) == 0 || strings.TrimSpace(e.Reason) == "" {
				t.Fatalf("exception %d accepted without rules or reason: %+v", i, e)
			}
			if e.Image == "" && e.Digest == "" && e.ComposeProject == "" && e.ComposeService == "" && e.Container == "" {
				t.Fatalf("exception %d accepted without a selector", i)
			}
			for _, r := range e.Rules {
				found := false
				for _, j := range x.byRule[r] {
					found = found || j == i
				}
				if !found {
					t.Fatalf("exception %d not indexed under %s", i, r)
				}
			}
			s := Subject{Image: e.Image, Digest: e.Digest, ComposeProject: e.ComposeProject, ComposeService: e.ComposeService, Container: e.Container}
			e.matches(&s) // globs on their own text: must not panic
		}
	})
}

package catalog

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPrograms(t *testing.T) {
	yes, no := true, false
	for _, c := range []struct {
		name    string
		set     PackageSet
		shell   *bool
		want    map[string]bool // the whole claim set
		unknown []string        // spelled out for the reader; must be absent
	}{
		{
			name:  "wolfi busybox links every applet",
			set:   PackageSet{Distro: Wolfi, Complete: true, Packages: []string{"busybox", "glibc"}},
			shell: &yes,
			want:  map[string]bool{"busybox": true, "sleep": true, "cat": true, "ls": true, "head": true, "tail": true, "bash": false, "dash": false, "curl": false},
			// wget and nc depend on the busybox build configuration
			unknown: []string{"wget", "nc"},
		},
		{
			name:    "alpine busybox: /bin/sh is busybox-binsh's",
			set:     PackageSet{Distro: Alpine, Complete: true, Packages: []string{"busybox", "musl"}},
			want:    map[string]bool{"busybox": true, "bash": false, "dash": false, "curl": false},
			unknown: []string{"sh", "sleep", "wget", "nc"},
		},
		{
			name:  "alpine busybox-binsh",
			set:   PackageSet{Distro: Alpine, Complete: true, Packages: []string{"busybox", "busybox-binsh"}},
			shell: &yes,
			want:  map[string]bool{"busybox": true, "bash": false, "dash": false, "curl": false},
		},
		{
			name:    "debian bash alone does not prove /bin/sh",
			set:     PackageSet{Distro: Debian, Complete: true, Packages: []string{"bash", "coreutils", "curl"}},
			want:    map[string]bool{"bash": true, "curl": true, "sleep": true, "cat": true, "ls": true, "head": true, "tail": true, "busybox": false, "dash": false, "wget": false, "nc": false},
			unknown: []string{"sh"},
		},
		{
			name:    "debian dash: /bin/sh is set up by its scripts",
			set:     PackageSet{Distro: Debian, Complete: true, Packages: []string{"dash"}},
			want:    map[string]bool{"dash": true, "bash": false, "busybox": false, "curl": false, "wget": false, "nc": false, "sleep": false, "cat": false, "ls": false, "head": false, "tail": false},
			unknown: []string{"sh"},
		},
		{
			name:  "nothing that provides a tool, complete list",
			set:   PackageSet{Distro: Debian, Complete: true, Packages: []string{"base-files", "ca-certificates", "libcurl4t64"}},
			shell: &no,
			want:  map[string]bool{"bash": false, "dash": false, "busybox": false, "curl": false, "wget": false, "nc": false, "sleep": false, "cat": false, "ls": false, "head": false, "tail": false},
		},
		{
			name:    "an incomplete list claims nothing absent",
			set:     PackageSet{Distro: Debian, Packages: []string{"curl"}},
			want:    map[string]bool{"curl": true},
			unknown: []string{"sh", "bash", "wget"},
		},
		{
			name:    "coreutils-env is not coreutils",
			set:     PackageSet{Distro: Alpine, Complete: true, Packages: []string{"coreutils-env", "nodejs-24"}},
			shell:   &no,
			want:    map[string]bool{"node": true, "bash": false, "dash": false, "busybox": false, "curl": false, "wget": false, "nc": false},
			unknown: []string{"sleep", "cat", "ls", "head", "tail"},
		},
		{
			name: "a build output to /usr/bin may hold anything its packages provide",
			set: PackageSet{Distro: Debian, Complete: true, Packages: []string{"base-files"}, Extra: []Extra{
				{Path: "/usr/bin", Build: "contents: {packages: [wget]}", BuildPackages: []string{"wget"}},
			}},
			shell: &no,
			want:  map[string]bool{"bash": false, "dash": false, "busybox": false, "curl": false, "nc": false, "sleep": false, "cat": false, "ls": false, "head": false, "tail": false},
			// wget: the build installs it into the output
			unknown: []string{"wget"},
		},
		{
			name: "a build output to /usr/local/bin holds what the build names",
			set: PackageSet{Distro: Alpine, Complete: true, Packages: []string{"musl"}, Extra: []Extra{
				{Path: "/usr/local/bin", Build: "pipeline: [{runs: ln -s /opt/x/curl /usr/local/bin/curl}]", BuildPackages: []string{"busybox"}},
			}},
			shell:   &no,
			want:    map[string]bool{"bash": false, "dash": false, "busybox": false, "wget": false, "nc": false, "sleep": false, "cat": false, "ls": false, "head": false, "tail": false},
			unknown: []string{"curl"},
		},
		{
			name: "a build's own packages do not land in its /usr/local output",
			set: PackageSet{Distro: Debian, Complete: true, Packages: []string{"tini"}, Extra: []Extra{
				{Path: "/usr/local/bin", Build: "pipeline: [{runs: make install PREFIX=/usr/local}]", BuildPackages: []string{"bash", "curl", "coreutils"}},
			}},
			shell: &no,
			want:  map[string]bool{"bash": false, "dash": false, "busybox": false, "curl": false, "wget": false, "nc": false, "sleep": false, "cat": false, "ls": false, "head": false, "tail": false},
		},
		{
			name: "a build that names a shell may leave /bin/sh in an output over /",
			set: PackageSet{Distro: Debian, Complete: true, Packages: []string{"nginx"}, Extra: []Extra{
				{Path: "/", Build: "pipeline: [{runs: bash ./configure}]"},
			}},
			want:    map[string]bool{"dash": false, "busybox": false, "curl": false, "wget": false, "nc": false, "sleep": false, "cat": false, "ls": false, "head": false, "tail": false},
			unknown: []string{"sh", "bash"},
		},
		{
			name:    "a file or link of the program's name",
			set:     PackageSet{Distro: Debian, Complete: true, Packages: []string{"netcat-openbsd"}, Extra: []Extra{{Path: "/usr/bin/nc"}, {Path: "/bin/sh"}}},
			want:    map[string]bool{"bash": false, "dash": false, "busybox": false, "curl": false, "wget": false, "sleep": false, "cat": false, "ls": false, "head": false, "tail": false},
			unknown: []string{"sh", "nc"},
		},
		{
			name:  "readiness probes only from packages that certainly install them",
			set:   PackageSet{Distro: Debian, Complete: true, Packages: []string{"redis-tools", "postgresql-client", "python3"}},
			shell: &no,
			want: map[string]bool{"redis-cli": true, "pg_isready": true, "psql": true, "python3": true,
				"bash": false, "dash": false, "busybox": false, "curl": false, "wget": false, "nc": false, "sleep": false, "cat": false, "ls": false, "head": false, "tail": false},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			shell, got := Programs(c.set)
			if show(shell) != show(c.shell) {
				t.Errorf("shell %s, want %s", show(shell), show(c.shell))
			}
			if !maps.Equal(got, c.want) {
				t.Errorf("programs\n got %v\nwant %v", got, c.want)
			}
			for _, p := range c.unknown {
				if _, ok := got[p]; ok {
					t.Errorf("%s should be unknown", p)
				}
			}
		})
	}
}

func TestArgvPrograms(t *testing.T) {
	for _, c := range []struct {
		entrypoint, cmd []string
		want            map[string]bool
		shell           bool
	}{
		{[]string{"/usr/bin/curl"}, []string{"--help"}, map[string]bool{"curl": true}, false},
		{[]string{}, []string{"/bin/sh", "-l"}, map[string]bool{"sh": true}, true},
		{[]string{"/bin/bash", "-c"}, nil, map[string]bool{"bash": true}, false},
		{[]string{"/usr/local/bin/docker-entrypoint.sh"}, []string{"postgres"}, map[string]bool{}, false},
		{[]string{}, []string{}, map[string]bool{}, false},
	} {
		var shell *bool
		got := map[string]bool{}
		argvPrograms(c.entrypoint, c.cmd, &shell, got)
		if !maps.Equal(got, c.want) || (shell != nil) != c.shell {
			t.Errorf("%q %q: %v shell %s", c.entrypoint, c.cmd, got, show(shell))
		}
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                       {},
		"/usr/bin/docker-entrypoint.sh postgres": {"/usr/bin/docker-entrypoint.sh", "postgres"},
		`-c /etc/nginx.conf -g "daemon off;"`:    {"-c", "/etc/nginx.conf", "-g", "daemon off;"},
		`a 'b c' d\ e ""`:                        {"a", "b c", "d e", ""},
	} {
		got, ok := splitWords(in)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := splitWords(`a "b`); ok {
		t.Error("an unterminated quote should not split")
	}
}

func TestMeet(t *testing.T) {
	yes, no := true, false
	a := Facts{Variant: "runtime", Shell: &no, Programs: map[string]bool{"curl": false, "node": true, "bash": false}, Entrypoint: []string{}, Cmd: []string{"node"}, User: "node"}
	b := Facts{Variant: "dev", Shell: &yes, Programs: map[string]bool{"curl": false, "node": true, "bash": true}, Entrypoint: []string{}, Cmd: []string{"node"}, User: "root"}
	m := Meet(a, b)
	if m.Variant != "" || m.Shell != nil || m.User != "" {
		t.Errorf("differing facts should be unknown: %+v", m)
	}
	if !maps.Equal(m.Programs, map[string]bool{"curl": false, "node": true}) {
		t.Errorf("programs %v", m.Programs)
	}
	if m.Entrypoint == nil || len(m.Entrypoint) != 0 || !slices.Equal(m.Cmd, []string{"node"}) {
		t.Errorf("equal configuration should stay: %q %q", m.Entrypoint, m.Cmd)
	}
	if u := Meet(a, Facts{}); u.Entrypoint != nil || u.Programs != nil {
		t.Errorf("meet with an unknown image should know nothing: %+v", u)
	}
}

// FuzzDecodeDHI: any bytes either decode or fail cleanly; what decodes has
// a dhi.io repository, tags and a variant.
func FuzzDecodeDHI(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixture, "dhi-catalog", "image", "*", "*", "*.yaml"))
	for _, p := range files {
		if raw, err := os.ReadFile(p); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte("image: dhi.io/x\nvariant: runtime\ntags: [1]\nos-release: {id: debian}\n"))
	f.Add([]byte("image: [\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		im, err := DecodeDHI(raw)
		if err != nil {
			return
		}
		if len(im.Tags) == 0 || (im.Facts.Variant != "runtime" && im.Facts.Variant != "dev") || len(im.Repository) <= len("dhi.io/") {
			t.Fatalf("decoded an incomplete definition: %+v", im)
		}
		if _, err := json.Marshal(im.Facts.encode()); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeChainguard: the same for locked configurations.
func FuzzDecodeChainguard(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixture, "chainguard-images", "images", "*", "locked_config.json"))
	for _, p := range files {
		if raw, err := os.ReadFile(p); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte(`{"repoTags":{"public/x":{"l":["latest"]}},"imageLocks":{"l":{"configs":{"amd64":"{\"config\":{\"cmd\":\"a 'b\"}}"}}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		imgs, err := DecodeChainguard(raw)
		if err != nil {
			return
		}
		for _, im := range imgs {
			if len(im.Repository) <= len(chainguardRegistry) || (im.Facts.Variant != "runtime" && im.Facts.Variant != "dev") {
				t.Fatalf("decoded an incomplete image: %+v", im)
			}
		}
	})
}

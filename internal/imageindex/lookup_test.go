package imageindex

import (
	"bytes"
	"testing"
)

func TestResolve(t *testing.T) {
	ix := build(t, legacyExport(t, [][]byte{baseLayer(t)}, false))
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"/bin/sh", "/usr/bin/dash", true},
		{"bin/sh", "/usr/bin/dash", true},
		{"/bin//./sh", "/usr/bin/dash", true},
		{"/usr/bin/sh", "/usr/bin/dash", true},
		{"/bin/", "/usr/bin", true},
		{"/", "/", true},
		{"", "/", true},
		{"/usr/bin/hard", "/usr/bin/hard", true},
		// ".." is taken on the resolved directory: /bin is /usr/bin.
		{"/bin/../only", "/usr/only", true},
		{"/only", "", false},
		// ".." never leaves the root, in the path or in link targets.
		{"/../../bin/sh", "/usr/bin/dash", true},
		{"../../../usr/bin/dash", "/usr/bin/dash", true},
		{"/escape", "/usr/bin/dash", true},
		{"/etc/esc", "/usr/bin/dash", true},
		{"/usr/lib/up", "/usr/bin/dash", true},
		// Dangling, through two links.
		{"/usr/bin/awk", "", false},
		{"/etc/alternatives/awk", "", false},
		{"/loop/a", "", false},
		{"/loop/a/x", "", false},
		{"/self", "", false},
		{"/empty", "", false},
		{"/nonexistent", "", false},
		{"/usr/bin/dash/x", "", false},
		{"/usr/bin/dash/", "", false},
		{"/usr/bin/dash/.", "", false},
		{"/usr/bin/dash/..", "", false},
		// The kernel's limit: 40 links are followed, the 41st fails.
		{"/chain/c1", "/chain/end", true},
		{"/chain/c0", "", false},
		{"/dev/null", "/dev/null", true},
	}
	for _, tt := range tests {
		got, ok := ix.Resolve(tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStat(t *testing.T) {
	ix := build(t, legacyExport(t, [][]byte{baseLayer(t)}, true))
	tests := []struct {
		path  string
		lstat bool
		want  Entry
		ok    bool
	}{
		{"/bin/sh", true, Entry{Type: TypeSymlink, Mode: 0o777, Link: "dash"}, true},
		{"/bin/sh", false, Entry{Type: TypeRegular, Mode: 0o755}, true},
		{"/bin", true, Entry{Type: TypeSymlink, Mode: 0o777, Link: "usr/bin"}, true},
		{"/bin/", true, Entry{Type: TypeDir, Mode: 0o755}, true},
		{"/usr/bin/hard", true, Entry{Type: TypeRegular, Mode: 0o755}, true}, // a hardlink is its target
		{"/usr/bin/awk", true, Entry{Type: TypeSymlink, Mode: 0o777, Link: "/etc/alternatives/awk"}, true},
		{"/usr/bin/awk", false, Entry{}, false},
		{"/dev/null", false, Entry{Type: TypeOther, Mode: 0o666}, true},
		// Implicit parents (no header of their own) are directories.
		{"/opt/tools", false, Entry{Type: TypeDir, Mode: 0o755}, true},
	}
	for _, tt := range tests {
		var got Entry
		var ok bool
		if tt.lstat {
			got, ok = ix.Lstat(tt.path)
		} else {
			got, ok = ix.Stat(tt.path)
		}
		if got != tt.want || ok != tt.ok {
			t.Errorf("lstat=%v %q = %+v, %v; want %+v, %v", tt.lstat, tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if n := ix.Len(); n < 60 {
		t.Errorf("Len() = %d, want at least 60", n)
	}
}

func TestLookPath(t *testing.T) {
	base := build(t, legacyExport(t, [][]byte{baseLayer(t)}, false))
	upper := build(t, ociExport(t, [][]byte{baseLayer(t), upperLayer(t)}, false, true))
	debian := build(t, legacyExport(t, debianLayers(t), true))
	debianBase := build(t, legacyExport(t, debianLayers(t)[:1], true))
	tests := []struct {
		name string
		ix   *Index
		prog string
		path []string
		want string
		ok   bool
	}{
		{"default PATH finds /usr/bin first", base, "sh", defaultPath, "/usr/bin/sh", true},
		{"through /bin link", base, "sh", []string{"/bin"}, "/bin/sh", true},
		{"absolute", base, "/bin/sh", nil, "/bin/sh", true},
		{"relative with slash from root", base, "usr/bin/dash", nil, "/usr/bin/dash", true},
		{"relative with dot", base, "./bin/sh", nil, "/bin/sh", true},
		{"hardlink", base, "hard", defaultPath, "/usr/bin/hard", true},
		{"owner-only execute bit", base, "setuid-only-user-x", defaultPath, "/usr/bin/setuid-only-user-x", true},
		{"opt tools not on default PATH", base, "tool", defaultPath, "", false},
		{"opt tools on PATH", base, "tool", append(append([]string{}, defaultPath...), "/opt/tools/bin"), "/opt/tools/bin/tool", true},
		{"relative PATH dir from root", base, "tool", []string{"opt/tools/bin"}, "/opt/tools/bin/tool", true},
		{"not executable", base, "readme", defaultPath, "", false},
		{"not executable by path", base, "/usr/bin/readme", nil, "", false},
		{"dangling", base, "awk", defaultPath, "", false},
		{"directory", base, "bin", []string{"/"}, "", false},
		{"device", base, "/dev/null", nil, "", false},
		{"missing", base, "curl", defaultPath, "", false},
		{"empty name", base, "", defaultPath, "", false},
		{"empty PATH", base, "sh", nil, "", false},
		{"merged-usr sh whited out", upper, "sh", defaultPath, "", false},
		{"merged-usr /bin/sh whited out", upper, "/bin/sh", nil, "", false},
		{"dash survives", upper, "dash", defaultPath, "/usr/bin/dash", true},
		{"opaque dir keeps own file", upper, "/var/data/new", nil, "/var/data/new", true},
		{"opaque dir hides lower file", upper, "/var/data/x", nil, "", false},
		{"subtree whiteout", upper, "tool", []string{"/opt/tools/bin"}, "", false},
		{"file replaces dir", upper, "/srv/d/child", nil, "", false},
		{"debian sh before", debianBase, "sh", defaultPath, "/bin/sh", true},
		{"debian sh whited out", debian, "sh", defaultPath, "", false},
		{"debian ls stays", debian, "ls", defaultPath, "/bin/ls", true},
	}
	for _, tt := range tests {
		got, ok := tt.ix.LookPath(tt.prog, tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: LookPath(%q) = %q, %v; want %q, %v", tt.name, tt.prog, got, ok, tt.want, tt.ok)
		}
	}
	if e, ok := upper.Stat("/var/data"); !ok || e.Type != TypeDir {
		t.Errorf("/var/data after opaque = %+v, %v", e, ok)
	}
	if e, ok := upper.Stat("/srv/d"); !ok || e.Type != TypeRegular {
		t.Errorf("/srv/d = %+v, %v", e, ok)
	}
}

func BenchmarkLookPath(b *testing.B) {
	ix, err := Build(bytes.NewReader(syntheticImage(b)), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ix.LookPath("sh", defaultPath); !ok {
			b.Fatal("sh not found")
		}
		if _, ok := ix.LookPath("curl", defaultPath); ok {
			b.Fatal("curl found")
		}
	}
}

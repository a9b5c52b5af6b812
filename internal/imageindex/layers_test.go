package imageindex

import (
	"archive/tar"
	"testing"
)

func fifo(name string) file  { return file{name: name, typ: tar.TypeFifo, mode: 0o644} }
func chdev(name string) file { return file{name: name, typ: tar.TypeChar, mode: 0o666} }

// TestHardlinkIsItsTarget: dockerd links with link(2), which never
// follows a symlink, and chmods the shared inode unless it is a symlink.
func TestHardlinkIsItsTarget(t *testing.T) {
	ix := build(t, legacyExport(t, [][]byte{tarOf(t, []file{
		dir("usr/bin/"),
		fifo("usr/bin/pipe"), hard("usr/bin/curl", "usr/bin/pipe", 0o755),
		chdev("dev/null"), hard("usr/bin/wget", "dev/null", 0o755),
		sym("usr/bin/dangling", "/nowhere"), hard("usr/bin/sh", "usr/bin/dangling", 0o755),
		sym("usr/bin/tobusy", "busybox"), reg("usr/bin/busybox", 0o755), hard("usr/bin/ash", "usr/bin/tobusy", 0o755),
		reg("usr/bin/plain", 0o644), hard("usr/bin/plain2", "usr/bin/plain", 0o755),
		hard("usr/bin/ghost", "usr/bin/missing", 0o755),
		hard("usr/bin/dirlink", "usr/bin", 0o755),
	})}, false))
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"curl", false}, {"wget", false}, {"sh", false}, {"ghost", false}, {"dirlink", false},
		{"ash", true},    // a symlink to busybox, linked as a symlink
		{"plain", true},  // the link's mode is the inode's
		{"plain2", true}, // and so the target's
	} {
		if _, ok := ix.LookPath(tc.name, []string{"/usr/bin"}); ok != tc.ok {
			t.Errorf("LookPath(%q) = %v, want %v", tc.name, ok, tc.ok)
		}
	}
	for p, want := range map[string]Type{"/usr/bin/curl": TypeOther, "/usr/bin/sh": TypeSymlink, "/usr/bin/ash": TypeSymlink} {
		if e, ok := ix.Lstat(p); !ok || e.Type != want {
			t.Errorf("Lstat(%q) = %+v %v, want a %s", p, e, ok, want)
		}
	}
	small := FromEntries(ix.ExecEntries())
	for _, name := range []string{"curl", "wget", "sh", "ash", "plain"} {
		want, wantOK := ix.LookPath(name, []string{"/usr/bin"})
		if got, ok := small.LookPath(name, []string{"/usr/bin"}); got != want || ok != wantOK {
			t.Errorf("kept index: LookPath(%q) = %q %v, want %q %v", name, got, ok, want, wantOK)
		}
	}
}

// TestMarkersUnderALowerSymlink: overlay2 unpacks a layer into a directory
// of its own, where a marker's parents are real directories that hide a
// lower layer's symlink at that path.
func TestMarkersUnderALowerSymlink(t *testing.T) {
	ix := build(t, legacyExport(t, [][]byte{
		tarOf(t, []file{dir("real/bin/"), reg("real/bin/curl", 0o755), reg("real/bin/sh", 0o755), sym("bin", "real/bin"), sym("opt", "real")}),
		tarOf(t, []file{wh("bin/.wh.curl"), wh("opt/.wh..wh..opq"), wh("gone/.wh.x")}),
	}, false))
	if e, ok := ix.Lstat("/bin"); !ok || e.Type != TypeDir {
		t.Errorf("/bin = %+v %v, want the directory the whiteout's parent makes", e, ok)
	}
	if _, ok := ix.LookPath("sh", []string{"/bin"}); ok {
		t.Error("/bin/sh found through the symlink an upper directory hides")
	}
	if _, ok := ix.LookPath("curl", []string{"/real/bin"}); !ok {
		t.Error("the whiteout acted through the symlink: /real/bin/curl is gone")
	}
	if _, ok := ix.LookPath("/opt/bin/sh", nil); ok {
		t.Error("/opt/bin/sh found under an opaque directory")
	}
	if e, ok := ix.Lstat("/gone"); !ok || e.Type != TypeDir {
		t.Errorf("/gone = %+v %v, want a directory", e, ok)
	}
}

package imageindex

import (
	"archive/tar"
	"testing"
)

func owned(f file, mode int64, uid, gid int) file {
	f.mode, f.uid, f.gid = mode, uid, gid
	return f
}

func body(name, text string) file {
	return file{name: name, typ: tar.TypeReg, mode: 0o644, body: text}
}

// permImage: a 0700 root program, a 0755 one in a 0700 root directory, a
// group-executable one, and the account files of a DHI-like image.
func permImage(t *testing.T) *Index {
	t.Helper()
	base := tarOf(t, []file{
		dir("etc/"), dir("usr/"), dir("usr/bin/"), dir("bin/"),
		owned(reg("usr/bin/probe", 0), 0o700, 0, 0),
		owned(reg("usr/bin/open", 0), 0o755, 0, 0),
		owned(dir("secret/"), 0o700, 0, 0),
		owned(reg("secret/tool", 0), 0o755, 0, 0),
		owned(reg("usr/bin/grp", 0), 0o750, 0, 70),
		owned(reg("usr/bin/mine", 0), 0o700, 65532, 65532),
		sym("bin/probe", "/usr/bin/probe"),
		body("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n# comment\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\nstaffer:x:1000:1000::/:/bin/sh\n"),
		body("etc/group", "root:x:0:\nnonroot:x:65532:\nwheel:x:70:staffer\n"),
	})
	return build(t, legacyExport(t, [][]byte{base}, true))
}

func TestExecutableByUser(t *testing.T) {
	ix := permImage(t)
	for _, tc := range []struct {
		path, user string
		ok, known  bool
	}{
		{"/usr/bin/probe", "65532", false, true},
		{"/usr/bin/probe", "root", true, true},
		{"/usr/bin/probe", "", true, true},
		{"/usr/bin/probe", "0:0", true, true},
		{"/bin/probe", "65532", false, true},
		{"/usr/bin/open", "65532", true, true},
		{"/secret/tool", "65532", false, true},
		{"/secret/tool", "0", true, true},
		{"/usr/bin/grp", "65532", false, true},
		{"/usr/bin/grp", "65532:70", true, true},
		{"/usr/bin/grp", "65532:wheel", true, true},
		{"/usr/bin/grp", "staffer", true, true}, // wheel lists staffer
		{"/usr/bin/grp", "1000", true, true},    // uid 1000 is staffer
		{"/usr/bin/grp", "2000", false, true},   // gid 0, not in wheel
		{"/usr/bin/mine", "nonroot", true, true},
		{"/usr/bin/probe", "nonroot", false, true},
		{"/usr/bin/probe", "nosuchuser", false, false},
		{"/usr/bin/grp", "65532:nosuchgroup", false, false},
	} {
		ok, known, _ := ix.ExecutableBy(tc.path, tc.user)
		if ok != tc.ok || known != tc.known {
			t.Errorf("ExecutableBy(%s, %q) = %v, known %v; want %v, known %v", tc.path, tc.user, ok, known, tc.ok, tc.known)
		}
	}
	if _, _, who := ix.ExecutableBy("/usr/bin/probe", "nonroot"); who != "uid 65532" {
		t.Errorf("who = %q, want uid 65532", who)
	}
}

// TestExecutableByAfterPersist: owners and the account files survive
// ExecEntries, FromEntries and WithAccounts, as imagescan keeps them.
func TestExecutableByAfterPersist(t *testing.T) {
	ix := permImage(t)
	kept := FromEntries(ix.ExecEntries()).WithAccounts(ix.Accounts())
	for _, user := range []string{"65532", "nonroot"} {
		if ok, known, _ := kept.ExecutableBy("/usr/bin/probe", user); ok || !known {
			t.Errorf("kept index: probe by %s = %v, known %v; want not executable", user, ok, known)
		}
	}
	if ok, _, _ := kept.ExecutableBy("/usr/bin/grp", "staffer"); !ok {
		t.Error("kept index: grp by staffer not executable")
	}
	// Without the account files, names are unknown; numbers still work.
	bare := FromEntries(ix.ExecEntries())
	if _, known, _ := bare.ExecutableBy("/usr/bin/probe", "nonroot"); known {
		t.Error("a name resolved without /etc/passwd")
	}
	if ok, known, _ := bare.ExecutableBy("/usr/bin/probe", "65532"); ok || !known {
		t.Error("numeric user without /etc/passwd not checked")
	}
}

// TestAccountsLastLayerWins: an upper layer's /etc/passwd replaces the
// lower one, a whiteout removes it, and a large one leaves names unknown.
func TestAccountsLastLayerWins(t *testing.T) {
	lower := tarOf(t, []file{dir("etc/"), body("etc/passwd", "app:x:10:10::/:/bin/sh\n"), owned(reg("probe", 0), 0o700, 10, 10)})
	upper := tarOf(t, []file{dir("etc/"), body("etc/passwd", "app:x:20:20::/:/bin/sh\n")})
	ix := build(t, legacyExport(t, [][]byte{lower, upper}, true))
	if ok, known, who := ix.ExecutableBy("/probe", "app"); ok || !known || who != "uid 20" {
		t.Errorf("upper passwd: %v %v %q", ok, known, who)
	}
	gone := tarOf(t, []file{wh("etc/.wh.passwd")})
	ix = build(t, legacyExport(t, [][]byte{lower, gone}, true))
	if _, known, _ := ix.ExecutableBy("/probe", "app"); known {
		t.Error("a name resolved from a whited-out /etc/passwd")
	}
	big := make([]byte, maxAccountFile+1)
	huge := tarOf(t, []file{dir("etc/"), body("etc/passwd", string(big))})
	ix = build(t, legacyExport(t, [][]byte{lower, huge}, true))
	if _, known, _ := ix.ExecutableBy("/probe", "app"); known {
		t.Error("a name resolved from a /etc/passwd too large to read")
	}
	if ok, known, _ := ix.ExecutableBy("/probe", "10:10"); !ok || !known {
		t.Error("uid:gid needs no account file")
	}
}

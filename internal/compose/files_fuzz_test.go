package compose

import (
	"strings"
	"testing"
)

// FuzzRemoteKind feeds arbitrary references to the remote detection that
// decides whether an include or extends is refused: it must never panic,
// a relative path written as such stays local, oci:// is always OCI, and
// the error for a remote names it.
func FuzzRemoteKind(f *testing.F) {
	for _, s := range []string{"compose.yaml", "./a.git", "oci://docker.io/x:1", "https://h/x.git#main:dir", "git@h:x.git",
		"github.com/a/b", "ssh://h/x", "http://h/%zz.git", "ftp://x.git", "a@b:c", "::", "git://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		kind := remoteKind(ref)
		switch {
		case strings.HasPrefix(ref, "oci://") && kind != remoteOCI:
			t.Fatalf("remoteKind(%q) = %q, want oci", ref, kind)
		case (strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../")) && kind != "":
			t.Fatalf("remoteKind(%q) = %q, want local", ref, kind)
		case kind != "" && kind != remoteGit && kind != remoteOCI:
			t.Fatalf("remoteKind(%q) = %q", ref, kind)
		}
		if kind != "" {
			if msg := (&RemoteError{File: "compose.yaml", Key: "include", Ref: ref}).Error(); !strings.Contains(msg, "not fetched") {
				t.Fatalf("error %q", msg)
			}
		}
	})
}

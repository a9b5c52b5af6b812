package imageindex

import "testing"

// An index rebuilt from ExecEntries answers every executable lookup as the
// full index does, and keeps no non-executable file.
func TestExecEntriesRoundTrip(t *testing.T) {
	full := build(t, ociExport(t, [][]byte{baseLayer(t), upperLayer(t)}, false, true))
	entries := full.ExecEntries()
	if _, kept := entries["/usr/bin/readme"]; kept {
		t.Error("a non-executable file was kept")
	}
	if e, kept := entries["/usr/bin/dash"]; !kept || e.Type != TypeRegular {
		t.Errorf("/usr/bin/dash = %+v, %v", e, kept)
	}
	small := FromEntries(entries)
	paths := [][]string{defaultPath, {"/opt/tools/bin"}, {"/var/data", "/fresh/sub"}, {"/chain"}}
	for _, prog := range []string{"sh", "dash", "/bin/sh", "/usr/bin/dash", "hard", "awk", "tool", "new", "x", "keep", "prog", "c0", "c1", "readme", "nope", "../bin/dash", "usr/bin/dash"} {
		for _, dirs := range paths {
			wantPath, wantOK := full.LookPath(prog, dirs)
			gotPath, gotOK := small.LookPath(prog, dirs)
			if gotPath != wantPath || gotOK != wantOK {
				t.Errorf("LookPath(%q, %q): rebuilt index says %q %v, full index %q %v", prog, dirs, gotPath, gotOK, wantPath, wantOK)
			}
		}
	}
	for _, p := range []string{"/bin/sh", "/lib/up", "/escape", "/etc/esc", "/loop/a", "/bin"} {
		wantFinal, wantOK := full.Resolve(p)
		gotFinal, gotOK := small.Resolve(p)
		if gotFinal != wantFinal || gotOK != wantOK {
			t.Errorf("Resolve(%q): rebuilt %q %v, full %q %v", p, gotFinal, gotOK, wantFinal, wantOK)
		}
	}
}

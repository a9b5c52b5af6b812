package imagescan

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/imageindex"
)

func TestDiskCacheSurvivesARestart(t *testing.T) {
	d := &daemon{body: export(t)}
	c, state := d.start(t), t.TempDir()
	if _, err := New(c, state, nil).Lookup(context.Background(), idA); err != nil {
		t.Fatal(err)
	}
	restarted := New(c, state, nil)
	ix, err := restarted.Lookup(context.Background(), idA)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.LookPath("curl", []string{"/usr/bin"}); !ok {
		t.Error("the cached index lost curl")
	}
	if n := len(d.exports()); n != 1 {
		t.Errorf("%d exports across a restart, want 1", n)
	}
	if st := restarted.Stats(); st.DiskHits != 1 || st.Scans != 0 {
		t.Errorf("stats after a restart: %+v", st)
	}
	// The file says what was indexed: the image and its layers.
	raw, err := os.ReadFile(restarted.file(idA))
	if err != nil {
		t.Fatal(err)
	}
	var di diskIndex
	if err := json.Unmarshal(raw, &di); err != nil || di.Version != cacheVersion || di.ID != idA || len(di.DiffIDs) != 1 || di.Entries["/usr/bin/curl"].Type != imageindex.TypeRegular {
		t.Errorf("index file: %v %+v", err, di)
	}
	for _, p := range []string{filepath.Join(state, "images"), restarted.file(idA)} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v, mode %v; want private", p, err, fi.Mode())
		}
	}
}

// An index file from an older plugin is scanned again without alarm.
func TestDiskOldFormatIsReplaced(t *testing.T) {
	d := &daemon{body: export(t)}
	var logs logBuffer
	state := t.TempDir()
	s := New(d.start(t), state, logs.logger())
	os.MkdirAll(filepath.Join(state, "images"), 0o700)
	os.WriteFile(s.file(idA), []byte(`{"version":1,"id":"`+idA+`","entries":{"/bin/sh":{"Type":1,"Mode":493}}}`), 0o600)
	ix, err := s.Lookup(context.Background(), idA)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.LookPath("/bin/sh", nil); ok {
		t.Error("the old index was believed")
	}
	if st := s.Stats(); st.DiskRejected != 0 || len(d.exports()) != 1 || !strings.Contains(logs.String(), "older format") {
		t.Errorf("stats %+v, exports %d, log:\n%s", st, len(d.exports()), logs.String())
	}
}

// An index the disk would refuse is never written: a hostile image with an
// absurd path is kept in memory and exported again after a restart.
func TestDiskWritesOnlyWhatItWouldRead(t *testing.T) {
	state := t.TempDir()
	s := New(nil, state, nil)
	long := "/" + strings.Repeat("a", maxPathLen)
	err := s.writeDisk(idA, nil, kept{entries: map[string]imageindex.Entry{long: {Type: imageindex.TypeDir, Mode: 0o755}}})
	if err == nil || !strings.Contains(err.Error(), "would not be read back") {
		t.Fatalf("writeDisk of a too long path: %v", err)
	}
	if _, err := os.Lstat(s.file(idA)); err == nil {
		t.Error("written anyway")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDiskIndex feeds arbitrary cache files to a scanner: a damaged state
// directory must never crash the plugin, only cost a new scan, and what it
// believes is what it would have written.
func FuzzDiskIndex(f *testing.F) {
	f.Add([]byte(`{"version":4,"id":"` + idA + `","entries":{"/bin/sh":{"Type":1,"Mode":448,"UID":0,"GID":0}},"accounts":{"passwd":"cm9vdDp4OjA6MDo6Lzovc2gK"}}`))
	f.Add([]byte(`{"version":2,"id":"` + idA + `","diff_ids":["` + idB + `"],"entries":{"/bin":{"Type":3,"Mode":511,"Link":"usr/bin"},"/usr/bin/sh":{"Type":1,"Mode":493}}}`))
	f.Add([]byte(`{"version":2,"id":"` + idA + `","entries":{"../../x":{"Type":2,"Link":"/"},"":{"Type":200}}}`))
	f.Add([]byte(`{"version":1,"id":"` + idA + `","entries":{"/bin":{"Type":2,"Mode":511}}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		state := t.TempDir()
		s := New(nil, state, nil)
		os.MkdirAll(filepath.Join(state, "images"), 0o700)
		os.WriteFile(s.file(idA), raw, 0o600)
		k, ok := s.readDisk(idA)
		if !ok {
			return
		}
		if err := validate(nil, k.entries, k.accounts); err != nil {
			t.Fatalf("believed an index that fails validation: %v", err)
		}
		ix := imageindex.FromEntries(k.entries).WithAccounts(k.accounts)
		ix.LookPath("sh", []string{"/bin", "/usr/bin"})
		ix.ExecutableBy("/bin/sh", "nobody")
		ix.LookPath("/bin/sh", nil)
		ix.Resolve("/bin/sh")
	})
}

// A file whose layers are not the image's (image inspect's RootFS.Layers)
// is not believed, however well-formed: the image is scanned again.
func TestDiskIndexMustMatchTheImagesLayers(t *testing.T) {
	d := &daemon{body: export(t)}
	c, state := d.start(t), t.TempDir()
	s := New(c, state, nil)
	if _, err := s.Lookup(context.Background(), idA); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(s.file(idA))
	if err != nil {
		t.Fatal(err)
	}
	var di diskIndex
	if err := json.Unmarshal(raw, &di); err != nil {
		t.Fatal(err)
	}
	di.DiffIDs = []string{"sha256:" + strings.Repeat("e", 64)}
	forged, _ := json.Marshal(di)
	if err := os.WriteFile(s.file(idA), forged, 0o600); err != nil {
		t.Fatal(err)
	}
	restarted := New(c, state, nil)
	if _, err := restarted.Lookup(context.Background(), idA); err != nil {
		t.Fatal(err)
	}
	if st := restarted.Stats(); st.DiskHits != 0 || st.DiskRejected != 1 || st.Scans != 1 {
		t.Errorf("stats after a forged file: %+v; want it rejected and the image scanned", st)
	}
}

//go:build unix

package imagescan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/imageindex"
)

// A state file that cannot be believed is refused, logged with the reason
// and counted, and the image is exported again, which replaces it. Each
// case puts something in place of image A's index file.
func TestDiskRefusesWhatItCannotTrust(t *testing.T) {
	body := export(t)
	valid := func(id string) []byte {
		return mustJSON(t, diskIndex{Version: cacheVersion, ID: id, DiffIDs: []string{idB},
			Entries: map[string]imageindex.Entry{"/usr/bin/sh": {Type: imageindex.TypeRegular, Mode: 0o755}}})
	}
	withEntry := func(p string, e imageindex.Entry) []byte {
		return mustJSON(t, diskIndex{Version: cacheVersion, ID: idA, Entries: map[string]imageindex.Entry{p: e}})
	}
	tests := []struct {
		name   string
		put    func(t *testing.T, file string)
		reason string
	}{
		{"a FIFO", func(t *testing.T, file string) {
			if err := syscall.Mkfifo(file, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is a FIFO, not a regular file"},
		{"a symlink out of the directory", func(t *testing.T, file string) {
			outside := filepath.Join(t.TempDir(), "forged.json")
			os.WriteFile(outside, valid(idA), 0o600)
			if err := os.Symlink(outside, file); err != nil {
				t.Fatal(err)
			}
		}, "is a symlink, not a regular file"},
		{"a directory", func(t *testing.T, file string) { os.Mkdir(file, 0o700) }, "is a directory"},
		{"an oversized file", func(t *testing.T, file string) {
			f, _ := os.OpenFile(file, os.O_CREATE|os.O_WRONLY, 0o600)
			f.Truncate(maxDiskBytes + 1) // sparse: no 64 MiB written
			f.Close()
		}, "more than 67108864"},
		{"a world-writable file", func(t *testing.T, file string) {
			os.WriteFile(file, valid(idA), 0o600)
			os.Chmod(file, 0o666)
		}, "writable by group or others (mode -rw-rw-rw-)"},
		{"another image's index", func(t *testing.T, file string) { os.WriteFile(file, valid(idB), 0o600) },
			"it holds the index of \\\"" + idB},
		{"a future format", func(t *testing.T, file string) {
			os.WriteFile(file, []byte(`{"version":99,"id":"`+idA+`"}`), 0o600)
		}, "format version 99"},
		{"not JSON", func(t *testing.T, file string) { os.WriteFile(file, []byte("{not json"), 0o600) }, "not an index"},
		{"a relative path", func(t *testing.T, file string) {
			os.WriteFile(file, withEntry("usr/bin/sh", imageindex.Entry{Type: imageindex.TypeRegular, Mode: 0o755}), 0o600)
		}, "not an absolute clean path"},
		{"an unclean path", func(t *testing.T, file string) {
			os.WriteFile(file, withEntry("/usr/../bin/sh", imageindex.Entry{Type: imageindex.TypeRegular, Mode: 0o755}), 0o600)
		}, "not an absolute clean path"},
		{"an unknown type", func(t *testing.T, file string) {
			os.WriteFile(file, withEntry("/bin/sh", imageindex.Entry{Type: 9, Mode: 0o755}), 0o600)
		}, "type Type(9) is not kept"},
		{"a device entry", func(t *testing.T, file string) {
			os.WriteFile(file, withEntry("/bin/sh", imageindex.Entry{Type: imageindex.TypeOther}), 0o600)
		}, "type other is not kept"},
		{"setuid bits", func(t *testing.T, file string) {
			os.WriteFile(file, withEntry("/bin/sh", imageindex.Entry{Type: imageindex.TypeRegular, Mode: 0o4755}), 0o600)
		}, "more than permission bits"},
		{"a relative hardlink", func(t *testing.T, file string) {
			os.WriteFile(file, withEntry("/bin/sh", imageindex.Entry{Type: imageindex.TypeHardlink, Mode: 0o755, Link: "dash"}), 0o600)
		}, "hardlink target"},
		{"a regular file with a link", func(t *testing.T, file string) {
			os.WriteFile(file, withEntry("/bin/sh", imageindex.Entry{Type: imageindex.TypeRegular, Mode: 0o755, Link: "/x"}), 0o600)
		}, "with a link target"},
		{"a bad diff ID", func(t *testing.T, file string) {
			os.WriteFile(file, []byte(`{"version":4,"id":"`+idA+`","diff_ids":["md5:x"],"entries":{}}`), 0o600)
		}, "is not a sha256 digest"},
	}
	if os.Geteuid() == 0 {
		tests = append(tests, struct {
			name   string
			put    func(t *testing.T, file string)
			reason string
		}{"a file another user owns", func(t *testing.T, file string) {
			os.WriteFile(file, valid(idA), 0o600)
			if err := os.Chown(file, 12345, 12345); err != nil {
				t.Fatal(err)
			}
		}, "is owned by uid 12345"}, struct {
			name   string
			put    func(t *testing.T, file string)
			reason string
		}{"a device node", func(t *testing.T, file string) {
			// /dev/null's numbers: opening it would not hang, but no
			// device is ever opened.
			if err := syscall.Mknod(file, syscall.S_IFCHR|0o600, 1<<8|3); err != nil {
				t.Fatal("mknod (the tests run as root, as CI does):", err)
			}
		}, "is a device, not a regular file"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &daemon{body: body}
			var logs logBuffer
			state := t.TempDir()
			s := New(d.start(t), state, logs.logger())
			os.MkdirAll(filepath.Join(state, "images"), 0o700)
			tt.put(t, s.file(idA))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ix, err := s.Lookup(ctx, idA)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := ix.LookPath("curl", []string{"/usr/bin"}); !ok {
				t.Error("the index does not come from the export")
			}
			if st := s.Stats(); st.DiskRejected != 1 || st.DiskHits != 0 || len(d.exports()) != 1 {
				t.Errorf("stats %+v, %d exports; want one rejection and one export", st, len(d.exports()))
			}
			if out := logs.String(); !strings.Contains(out, "rejected the index kept on disk") || !strings.Contains(out, tt.reason) {
				t.Errorf("log lacks the reason %q:\n%s", tt.reason, out)
			}
			if tt.name == "a directory" {
				return // a rename does not replace a directory
			}
			// The scan replaced it with a file the next start believes.
			if _, ok := New(nil, state, nil).readDisk(idA); !ok {
				t.Error("the rescan did not replace the refused file")
			}
		})
	}
}

// Directories another user could write are neither read nor written: the
// index stays in memory.
func TestDiskRefusesUnsafeDirectories(t *testing.T) {
	for name, setup := range map[string]func(t *testing.T, state string){
		"group-writable images directory": func(t *testing.T, state string) {
			os.MkdirAll(filepath.Join(state, "images"), 0o700)
			os.Chmod(filepath.Join(state, "images"), 0o770)
		},
		"world-writable state directory": func(t *testing.T, state string) { os.Chmod(state, 0o777) },
		"images directory is a symlink": func(t *testing.T, state string) {
			if err := os.Symlink(t.TempDir(), filepath.Join(state, "images")); err != nil {
				t.Fatal(err)
			}
		},
		"images directory is a file": func(t *testing.T, state string) {
			os.WriteFile(filepath.Join(state, "images"), nil, 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := &daemon{body: export(t)}
			var logs logBuffer
			state := t.TempDir()
			os.Chmod(state, 0o700)
			setup(t, state)
			s := New(d.start(t), state, logs.logger())
			if _, err := s.Lookup(context.Background(), idA); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "index not kept on disk") {
				t.Errorf("no log of the refused write:\n%s", logs.String())
			}
			if _, err := os.Lstat(s.file(idA)); err == nil {
				t.Error("an index was written into an unsafe directory")
			}
		})
	}
}

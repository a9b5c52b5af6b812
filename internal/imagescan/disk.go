package imagescan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/atomicfile"
	"github.com/hardened-authz/hardened-authz/internal/imageindex"
)

// The state directory is read as hostile as an image: whoever can put a
// file there decides what the plugin believes an image holds, and a FIFO
// or a device there must not hang or disturb a scan. So a file is only
// believed when it and its directories belong to this process's user (or
// root) and nobody else may write them, when it is a regular file opened
// without following a link or blocking, when it is of a sane size, and
// when what it says passes the same checks as what Build makes.
const (
	// cacheVersion changes when the on-disk format, or what the indexer
	// makes of an export, does. 2: diff IDs kept, layers checked against
	// them, compression sniffed as dockerd sniffs it. 3: a hardlink is its
	// target's inode (a FIFO, a symlink), markers under a lower layer's
	// symlink make a directory there. 4: owners (uid, gid) kept, and the
	// image's /etc/passwd and /etc/group, for the container user's
	// permission to execute.
	cacheVersion = 4
	// maxAccountBytes bounds each account file kept; Build keeps no more.
	maxAccountBytes = 64 << 10
	// maxDiskBytes bounds one index file. ExecEntries of a large
	// distribution image is a few megabytes.
	maxDiskBytes = 64 << 20
	// verifyDeadline bounds the image inspect that checks a file.
	verifyDeadline = 10 * time.Second
	// maxDiskEntries bounds the paths of one index file.
	maxDiskEntries = 1_000_000
	// maxDiskLayers bounds the diff IDs; dockerd stacks at most 128
	// layers on overlay2.
	maxDiskLayers = 4096
	// maxPathLen is PATH_MAX: a longer path cannot be executed by name.
	maxPathLen = 4096
)

// errOldFormat is a file from an older plugin: scanned again, not alarming.
var errOldFormat = errors.New("index kept in an older format")

type diskIndex struct {
	Version int                         `json:"version"`
	ID      string                      `json:"id"`
	DiffIDs []string                    `json:"diff_ids"`
	Entries map[string]imageindex.Entry `json:"entries"`
	// Accounts is what Build read of /etc/passwd and /etc/group.
	Accounts imageindex.Accounts `json:"accounts"`
}

// kept is what an index file holds of an image.
type kept struct {
	entries  map[string]imageindex.Entry
	accounts imageindex.Accounts
}

func (s *Scanner) file(id string) string {
	return filepath.Join(s.stateDir, "images", "sha256-"+id[len("sha256:"):]+".json")
}

// readDisk returns the entries kept for id, when there is a file and it is
// believed. A file that is refused is logged with the reason and counted,
// and the image is scanned again, which replaces it.
func (s *Scanner) readDisk(id string) (kept, bool) {
	k, err := s.readDiskFile(id)
	switch {
	case err == nil:
		return k, true
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, errOldFormat):
		s.log.Info("image scan: the index kept on disk is in an older format; scanning the image again", "image", id)
	default:
		s.diskRejected.Add(1)
		s.log.Warn("image scan: rejected the index kept on disk; scanning the image again",
			"image", id, "file", s.file(id), "reason", err.Error())
	}
	return kept{}, false
}

func (s *Scanner) readDiskFile(id string) (kept, error) {
	if s.stateDir == "" {
		return kept{}, fs.ErrNotExist
	}
	if err := checkDirs(s.stateDir); err != nil {
		return kept{}, err
	}
	raw, err := readPrivateFile(s.file(id), maxDiskBytes)
	if err != nil {
		return kept{}, err
	}
	var d diskIndex
	if err := json.Unmarshal(raw, &d); err != nil {
		return kept{}, fmt.Errorf("not an index: %w", err)
	}
	switch {
	case d.Version >= 1 && d.Version < cacheVersion:
		return kept{}, errOldFormat
	case d.Version != cacheVersion:
		return kept{}, fmt.Errorf("format version %d, want %d", d.Version, cacheVersion)
	case d.ID != id:
		return kept{}, fmt.Errorf("it holds the index of %q", d.ID)
	}
	if err := validate(d.DiffIDs, d.Entries, d.Accounts); err != nil {
		return kept{}, err
	}
	if err := s.sameLayers(id, d.DiffIDs); err != nil {
		return kept{}, err
	}
	return kept{entries: d.Entries, accounts: d.Accounts}, nil
}

// sameLayers checks an index kept on disk against the image the daemon
// has: the layers it was built from must be the image's, in order
// (image inspect's RootFS.Layers). An image ID names its config, which
// names its layers, so a mismatch means the file is not what it says.
// A daemon that cannot answer leaves the file unverified, and unused; a
// scanner without a daemon (which cannot scan either) has nothing to
// check against.
func (s *Scanner) sameLayers(id string, diffIDs []string) error {
	if s.client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), verifyDeadline)
	defer cancel()
	res, err := s.client.ImageInspect(ctx, id)
	if err != nil {
		return fmt.Errorf("cannot check it against the image's layers: %w", err)
	}
	var layers []string
	if res.RootFS.Type != "" || len(res.RootFS.Layers) > 0 {
		layers = res.RootFS.Layers
	}
	if !slices.Equal(layers, diffIDs) {
		return fmt.Errorf("it was built from %d layers that are not the image's %d (image inspect's RootFS.Layers)", len(diffIDs), len(layers))
	}
	return nil
}

// writeDisk keeps an index for the next start. It writes atomically (a
// reader never sees half a file), privately (0600), only into directories
// readDisk would trust, and only what readDisk would read back.
func (s *Scanner) writeDisk(id string, diffIDs []string, k kept) error {
	if s.stateDir == "" {
		return nil
	}
	entries := k.entries
	if err := validate(diffIDs, entries, k.accounts); err != nil {
		return fmt.Errorf("it would not be read back: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.stateDir, "images"), 0o700); err != nil {
		return err
	}
	if err := checkDirs(s.stateDir); err != nil {
		return err
	}
	raw, err := json.Marshal(diskIndex{Version: cacheVersion, ID: id, DiffIDs: diffIDs, Entries: entries, Accounts: k.accounts})
	if err != nil {
		return err
	}
	if len(raw) > maxDiskBytes {
		return fmt.Errorf("it is %d bytes, more than %d", len(raw), maxDiskBytes)
	}
	return atomicfile.Write(s.file(id), raw, 0o600)
}

// checkDirs checks the state directory (which may be a symlink an
// operator made) and its images directory (which may not).
func checkDirs(stateDir string) error {
	if err := checkDir(stateDir, os.Stat); err != nil {
		return err
	}
	return checkDir(filepath.Join(stateDir, "images"), os.Lstat)
}

func checkDir(dir string, stat func(string) (fs.FileInfo, error)) error {
	fi, err := stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is %s, not a directory", dir, kind(fi.Mode()))
	}
	return checkOwnerAndMode(dir, fi)
}

// checkOwnerAndMode refuses what another user could have written.
func checkOwnerAndMode(name string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); permBitsMeaningful && perm&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %s)", name, perm)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Geteuid() && uid != 0 {
		return fmt.Errorf("%s is owned by uid %d, not by this process's (%d) or root", name, uid, os.Geteuid())
	}
	return nil
}

// readPrivateFile reads a regular file of at most max bytes. It looks
// before it opens, so a device is never opened, opens without following a
// symlink and without blocking, so a FIFO put there after the look cannot
// hang the scan, and checks that what it opened is what it looked at.
func readPrivateFile(name string, max int64) ([]byte, error) {
	before, err := os.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", name, kind(before.Mode()))
	}
	f, err := openNoFollow(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || !os.SameFile(before, fi) {
		return nil, fmt.Errorf("%s was replaced while it was opened", name)
	}
	if err := checkOwnerAndMode(name, fi); err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, more than %d", name, fi.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s grew past %d bytes while it was read", name, max)
	}
	return data, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	}
	return "of type " + m.Type().String()
}

// validate checks an index as Build would have made it: sha256 diff IDs,
// absolute clean paths, the types and permission bits ExecEntries keeps,
// links only where they belong, account files no larger than Build keeps,
// and counts no image reaches.
func validate(diffIDs []string, entries map[string]imageindex.Entry, accounts imageindex.Accounts) error {
	if len(accounts.Passwd) > maxAccountBytes || len(accounts.Group) > maxAccountBytes {
		return fmt.Errorf("account files of %d and %d bytes, more than %d", len(accounts.Passwd), len(accounts.Group), maxAccountBytes)
	}
	if len(diffIDs) > maxDiskLayers {
		return fmt.Errorf("%d diff IDs, more than %d", len(diffIDs), maxDiskLayers)
	}
	for _, d := range diffIDs {
		if !imageID.MatchString(d) {
			return fmt.Errorf("diff ID %q is not a sha256 digest", d)
		}
	}
	if len(entries) > maxDiskEntries {
		return fmt.Errorf("%d paths, more than %d", len(entries), maxDiskEntries)
	}
	for p, e := range entries {
		if err := validEntry(p, e); err != nil {
			return fmt.Errorf("path %q: %w", p, err)
		}
	}
	return nil
}

func validEntry(p string, e imageindex.Entry) error {
	if !cleanAbs(p) {
		return errors.New("not an absolute clean path")
	}
	if e.Mode&^fs.ModePerm != 0 {
		return fmt.Errorf("mode %#o has more than permission bits", uint32(e.Mode))
	}
	switch e.Type {
	case imageindex.TypeDir, imageindex.TypeRegular:
		if e.Link != "" {
			return fmt.Errorf("a %s with a link target", e.Type)
		}
	case imageindex.TypeSymlink:
		if len(e.Link) > maxPathLen || strings.IndexByte(e.Link, 0) >= 0 {
			return errors.New("symlink target too long or with a NUL byte")
		}
	case imageindex.TypeHardlink:
		if !cleanAbs(e.Link) {
			return errors.New("hardlink target not an absolute clean path")
		}
	default:
		return fmt.Errorf("type %s is not kept in an index", e.Type)
	}
	if p == "/" && e.Type != imageindex.TypeDir {
		return fmt.Errorf("the root is a %s", e.Type)
	}
	return nil
}

func cleanAbs(p string) bool {
	return len(p) <= maxPathLen && strings.HasPrefix(p, "/") && path.Clean(p) == p && strings.IndexByte(p, 0) < 0
}

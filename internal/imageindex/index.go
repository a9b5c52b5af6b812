// Package imageindex indexes an image's files from its export stream, and
// is the one image package that never talks to the daemon. Its siblings do:
// internal/imagefacts says what the daemon's image inspect and the image
// name say (labels, config, the catalog fallback), and internal/imagescan
// is the cache and background scanner that fetches the export and keeps
// the indexes built here per image ID, in memory and on disk. Keeping this
// part pure is what lets tests and the fuzzer feed it any stream a daemon,
// or an attacker's image, could produce.
//
// The index keeps only what matters for running a program in the image:
// every path's type, permission bits, owner and link target, after the
// image's layers are stacked, and the bodies of /etc/passwd and /etc/group
// (at most 64 KiB each), which name the container's user. Build reads the export (GET /images/{name}/get, the
// `docker save` tar) once, in either layout dockerd writes, and never
// unpacks anything to disk or keeps other file bodies: a policy decision needs
// "can the healthcheck's program run here", not the program itself. Every
// layer is checked against its diff ID, so what is indexed is what the
// daemon unpacks, however the layer's bytes could otherwise be read.
package imageindex

import (
	"fmt"
	"io/fs"
)

// Index is the merged file tree of an image. It is read-only after Build and
// safe for concurrent use.
type Index struct {
	f *flat
	// diffIDs are the digests of the layers as read, bottom first; nil
	// for an index rebuilt with FromEntries.
	diffIDs []string
	// accounts is what Build read of /etc/passwd and /etc/group.
	accounts Accounts
}

// DiffIDs returns the digest ("sha256:<hex>") of each uncompressed layer
// Build read, bottom first: the image's diff IDs (RootFS.Layers in image
// inspect), checked against its config when Options.VerifyDiffIDs is set.
// It is nil for an index rebuilt with FromEntries.
func (ix *Index) DiffIDs() []string {
	return append([]string(nil), ix.diffIDs...)
}

// Len returns the number of paths in the merged image, the root included.
func (ix *Index) Len() int {
	return len(ix.f.nodes)
}

// SizeEstimate is about the bytes of memory the index holds.
func (ix *Index) SizeEstimate() int {
	return ix.f.bytes() + len(ix.accounts.Passwd) + len(ix.accounts.Group)
}

// Entry is what the index keeps of one path.
type Entry struct {
	Type Type
	// Mode holds the permission bits (0o777) from the layer's header.
	Mode fs.FileMode
	// UID and GID are the owner from the layer's header, as dockerd
	// chowns the file when it unpacks the layer.
	UID, GID uint32
	// Link is a symlink's target as written in the layer, or a hardlink's
	// target as an absolute path in the image; empty otherwise.
	Link string
}

// Type is the kind of a file in the image.
type Type uint8

// The file types an Index distinguishes. Hardlinks are kept apart from
// regular files because that is what the layer says, but they run like
// regular files.
const (
	TypeRegular Type = iota + 1
	TypeDir
	TypeSymlink
	TypeHardlink
	// TypeOther is a device or FIFO: it occupies a path but never runs.
	TypeOther
)

// String names the type for messages.
func (t Type) String() string {
	switch t {
	case TypeRegular:
		return "regular"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	case TypeHardlink:
		return "hardlink"
	case TypeOther:
		return "other"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// node is one path of the tree Build stacks layers on, before it is laid
// out flat; only directories have children.
type node struct {
	Entry
	children map[string]*node
	// data is the body of /etc/passwd or /etc/group as a layer holds it
	// (see accountFiles); nil for every other file.
	data []byte
}

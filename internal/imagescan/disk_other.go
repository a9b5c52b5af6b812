//go:build !unix

package imagescan

import (
	"io/fs"
	"os"
)

// permBitsMeaningful: Windows makes permission bits up from the read-only
// attribute; they say nothing about who may write.
const permBitsMeaningful = false

// openNoFollow opens name for reading. Without O_NOFOLLOW, the Lstat and
// SameFile checks in readPrivateFile are what refuses a link.
func openNoFollow(name string) (*os.File, error) { return os.Open(name) }

// fileOwner is unknown here: file ownership is not a uid.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }

//go:build unix

package imagescan

import (
	"io/fs"
	"os"
	"syscall"
)

// permBitsMeaningful: group and other write bits say who may write.
const permBitsMeaningful = true

// openNoFollow opens name for reading without following a symlink in its
// last component (ELOOP instead) and without blocking on a FIFO or a
// device; reads of a regular file are unaffected by O_NONBLOCK.
func openNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// fileOwner is the uid that owns fi.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

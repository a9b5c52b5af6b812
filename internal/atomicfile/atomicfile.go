// Package atomicfile replaces files so that a reader, or a process that is
// interrupted, never sees half of one.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces file with b, with permissions perm: it writes a temporary
// file in the same directory (so the rename stays on one file system) and
// renames it over file. On failure file is untouched and the temporary
// file is gone.
func Write(file string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

//go:build unix

package decisionlog

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// stdout is a duplicate of standard output. Go ends the program with
// SIGPIPE when a write to descriptors 1 or 2 finds the pipe closed; a
// write to the duplicate fails with EPIPE instead, which the logger counts
// as a dropped line while the plugin goes on deciding.
func stdout() (io.Writer, error) {
	fd, err := syscall.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("duplicate standard output: %w", err)
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "stdout"), nil
}

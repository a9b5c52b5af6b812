//go:build !unix

package decisionlog

import (
	"io"
	"os"
)

// stdout is standard output itself where there is no SIGPIPE to avoid,
// without its Close: closing the logger must not close standard output.
func stdout() (io.Writer, error) { return struct{ io.Writer }{os.Stdout}, nil }

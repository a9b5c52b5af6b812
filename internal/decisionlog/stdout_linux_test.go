//go:build linux

package decisionlog

import (
	"context"
	"os"
	"syscall"
	"testing"
)

// --decision-log - on a standard output whose reader went away: the line
// is dropped and counted, and the process is not killed by SIGPIPE, as it
// would be writing to descriptor 1 itself.
func TestStdoutClosedPipeDropsLines(t *testing.T) {
	saved, err := syscall.Dup(1)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(w.Fd()), 1, 0); err != nil {
		t.Fatal(err)
	}
	l, openErr := Open(Stdout, Options{})
	// Standard output is the test's again before anything can fail.
	restoreErr := syscall.Dup3(saved, 1, 0)
	syscall.Close(saved)
	w.Close()
	if openErr != nil || restoreErr != nil {
		t.Fatal(openErr, restoreErr)
	}
	defer l.Close()
	rec := deniedRecord()
	l.Observe(context.Background(), rec)
	buf := make([]byte, 1<<16)
	if n, _ := r.Read(buf); n == 0 || buf[n-1] != '\n' {
		t.Fatalf("read %q from the pipe", buf[:n])
	}
	r.Close()
	l.Observe(context.Background(), rec)
	if written, dropped := l.Stats(); written != 1 || dropped != 1 {
		t.Fatalf("written %d dropped %d, want 1 and 1", written, dropped)
	}
}

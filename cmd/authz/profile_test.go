package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --cpuprofile writes a CPU profile of the command, whatever its exit
// status (the seed's problem project has findings), and stays out of the
// help.
func TestCPUProfileFlag(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "check.prof")
	_, stderr, code := run(t, "check", "--no-daemon", "--cpuprofile", prof, filepath.Join("..", "..", "testdata", "seed", "problem"))
	stopProfile()
	if code != 1 {
		t.Fatalf("exit %d, want 1 (findings)\n%s", code, stderr)
	}
	st, err := os.Stat(prof)
	if err != nil || st.Size() == 0 {
		t.Fatalf("no profile written: %v", err)
	}
	help, _, _ := run(t, "check", "--help")
	if strings.Contains(help, "cpuprofile") {
		t.Errorf("--cpuprofile is in the help:\n%s", help)
	}
}

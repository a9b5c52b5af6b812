// Command authz is hardened-authz: a Docker authorization plugin and CI
// checker that stops healthchecks which cannot run in hardened images.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCommand().ExecuteContext(ctx)
	stopProfile()
	if err != nil {
		if err != errFindings { // the report already says it
			fmt.Fprintln(os.Stderr, "authz:", err)
		}
		os.Exit(exitCode(err))
	}
}

// stopProfile ends the CPU profile startProfile began, if any; main calls
// it whether the command succeeded or not, since a failing check is as
// worth measuring as a passing one.
var stopProfile = func() {}

// startProfile starts a CPU profile of the command when the hidden
// --cpuprofile flag names a file.
func startProfile(cmd *cobra.Command, _ []string) error {
	path, _ := cmd.Flags().GetString("cpuprofile")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return usageError{fmt.Errorf("--cpuprofile: %w", err)}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return usageError{fmt.Errorf("--cpuprofile: %w", err)}
	}
	stopProfile = func() {
		pprof.StopCPUProfile()
		f.Close()
	}
	return nil
}

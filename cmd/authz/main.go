// Command authz is hardened-authz: a Docker authorization plugin and CI
// checker that stops healthchecks which cannot run in hardened images.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		if err != errFindings { // the report already says it
			fmt.Fprintln(os.Stderr, "authz:", err)
		}
		os.Exit(exitCode(err))
	}
}

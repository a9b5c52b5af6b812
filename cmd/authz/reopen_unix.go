//go:build unix

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// onReopenSignal calls reopen on every SIGUSR1 until ctx is done:
// logrotate's postrotate sends it after moving the decision log away.
func onReopenSignal(ctx context.Context, reopen func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ch:
				reopen()
			case <-ctx.Done():
				return
			}
		}
	}()
}

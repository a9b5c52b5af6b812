//go:build !unix

package main

import "context"

// onReopenSignal does nothing without SIGUSR1: the decision log still
// notices within a second that its file was moved, and reopens it.
func onReopenSignal(context.Context, func()) {}

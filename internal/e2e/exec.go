//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Result is what one finished command produced.
type Result struct {
	// Cmd is the command line, for messages.
	Cmd string
	// Out is stdout and stderr interleaved, as a person would see them.
	Out string
	// Stdout is stdout alone, for output a test parses.
	Stdout string
	// ExitCode is the exit status, or -1 when the command did not exit
	// normally (not started, killed at its deadline).
	ExitCode int
	// Err is the error from starting or waiting, nil on exit status 0.
	Err error
	// Elapsed is the wall time of the command.
	Elapsed time.Duration
	// TimedOut tells that the deadline killed the command.
	TimedOut bool
}

// OK tells whether the command exited 0.
func (r Result) OK() bool { return r.Err == nil }

// String formats the result for a failure message: the command, how it ended
// and its whole output.
func (r Result) String() string {
	how := fmt.Sprintf("exit %d", r.ExitCode)
	if r.TimedOut {
		how = "killed at its deadline"
	} else if r.Err != nil && r.ExitCode < 0 {
		how = r.Err.Error()
	}
	return fmt.Sprintf("$ %s\n(%s after %s)\n%s", r.Cmd, how, r.Elapsed.Round(time.Millisecond), r.Out)
}

// Runner runs commands with a fixed extra environment (DOCKER_HOST and
// friends), each under its own deadline, so no command of the suite can hang
// it.
type Runner struct {
	// Env overrides the process environment: "KEY=value" sets KEY, and
	// "KEY=" removes it.
	Env []string
	// Dir is the working directory, "" for the current one.
	Dir string
}

// Run runs name with args and a deadline of timeout. It never fails the test
// by itself: callers assert on the Result.
func (r Runner) Run(timeout time.Duration, name string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = mergeEnv(os.Environ(), r.Env)
	cmd.Dir = r.Dir
	cmd.Stdin = nil
	var stdout bytes.Buffer
	buf := &lockedBuffer{}
	cmd.Stdout = io.MultiWriter(buf, &stdout)
	cmd.Stderr = buf
	// A child that inherited the output pipe (docker-compose forks helpers)
	// must not keep Wait blocked after the deadline killed the command.
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	err := cmd.Run()
	res := Result{
		Cmd:      shellQuote(name, args...),
		Out:      buf.String(),
		Stdout:   stdout.String(),
		ExitCode: -1,
		Err:      err,
		Elapsed:  time.Since(start),
		TimedOut: errors.Is(ctx.Err(), context.DeadlineExceeded),
	}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	return res
}

// lockedBuffer is the interleaved output: exec copies stdout and stderr in
// two goroutines once they are different writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// shellQuote renders a command line that can be pasted into a shell.
func shellQuote(name string, args ...string) string {
	parts := make([]string, 0, len(args)+1)
	for _, a := range append([]string{name}, args...) {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`|&;<>(){}[]*?!#~") {
			parts = append(parts, a)
			continue
		}
		parts = append(parts, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return strings.Join(parts, " ")
}

// mergeEnv applies overrides ("KEY=value" sets, "KEY=" removes) to base.
func mergeEnv(base, overrides []string) []string {
	set := map[string]string{}
	var order []string
	for _, kv := range overrides {
		k, v, _ := strings.Cut(kv, "=")
		if _, seen := set[k]; !seen {
			order = append(order, k)
		}
		set[k] = v
	}
	out := make([]string, 0, len(base)+len(overrides))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, overridden := set[k]; !overridden {
			out = append(out, kv)
		}
	}
	for _, k := range order {
		if set[k] != "" {
			out = append(out, k+"="+set[k])
		}
	}
	return out
}

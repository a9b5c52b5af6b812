//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// processAlive tells whether pid is a live process. A zombie counts as gone:
// it has exited and only waits for its parent to reap it.
func processAlive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// procStat reads the state letter and process group of pid from
// /proc/<pid>/stat.
func procStat(pid int) (state byte, pgid int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name in parentheses may contain spaces; the fields after
	// its closing parenthesis are "state ppid pgrp ...".
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	fields := bytes.Fields(data[i+1:])
	if len(fields) < 3 || len(fields[0]) == 0 {
		return 0, 0, false
	}
	pgid, err = strconv.Atoi(string(fields[2]))
	if err != nil {
		return 0, 0, false
	}
	return fields[0][0], pgid, true
}

// cmdlineContains tells whether the command line of pid contains marker. The
// suite only ever signals a process whose command line names its own
// temporary directory, so a recycled PID is never hit.
func cmdlineContains(pid int, marker string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(data, []byte(marker))
}

// stopPID stops one process the suite started (with Setpgid, so it leads its
// own process group): SIGTERM, up to grace for it to exit, then SIGKILL to its
// group. It does nothing when pid is gone or is not ours (its command line
// lacks marker). It works whether or not the caller is the parent, so the
// reaper can use it too.
func stopPID(pid int, marker string, grace time.Duration) error {
	if pid <= 0 || !processAlive(pid) || !cmdlineContains(pid, marker) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(pid, grace) {
		return nil
	}
	if _, pgid, ok := procStat(pid); ok && pgid == pid {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(pid, 10*time.Second) {
		return fmt.Errorf("process %d ignored SIGTERM for %s and was killed", pid, grace)
	}
	return fmt.Errorf("process %d survived SIGKILL", pid)
}

// waitGone polls until pid has exited or d has passed.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !processAlive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

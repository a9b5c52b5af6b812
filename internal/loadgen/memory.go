package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Memory is a plugin process's resident memory, read from the kernel
// (/proc/PID/status) before and after one kind was measured on it.
type Memory struct {
	// RSSBefore and RSSAfter are VmRSS in bytes: the pages resident now,
	// the binary's own (file-backed) pages included.
	RSSBefore int64 `json:"rss_before"`
	RSSAfter  int64 `json:"rss_after"`
	// AnonAfter is RssAnon in bytes after the kind: the heap and stacks,
	// what grows with work (file-backed pages are the binary's and shared).
	AnonAfter int64 `json:"anon_after"`
	// PeakRSS is VmHWM in bytes after the kind: the most the process has
	// held resident since it started.
	PeakRSS int64 `json:"peak_rss"`
}

// processMemory reads VmRSS, RssAnon and VmHWM of process pid.
func processMemory(pid int) (rss, anon, peak int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read the plugin's memory (--pid %d): %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(k) {
		case "VmRSS":
			dst = &rss
		case "RssAnon":
			dst = &anon
		case "VmHWM":
			dst = &peak
		default:
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, 0, 0, fmt.Errorf("/proc/%d/status: unexpected %s line %q", pid, k, v)
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, k, err)
		}
		*dst = n << 10
	}
	if rss == 0 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS: is %d a running process?", pid, pid)
	}
	return rss, anon, peak, nil
}

// MeasureMemory runs f and returns the memory of process pid around it.
func MeasureMemory(pid int, f func() error) (Memory, error) {
	before, _, _, err := processMemory(pid)
	if err != nil {
		return Memory{}, err
	}
	if err := f(); err != nil {
		return Memory{}, err
	}
	after, anon, peak, err := processMemory(pid)
	if err != nil {
		return Memory{}, err
	}
	return Memory{RSSBefore: before, RSSAfter: after, AnonAfter: anon, PeakRSS: peak}, nil
}

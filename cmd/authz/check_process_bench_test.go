package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

var (
	builtOnce sync.Once
	builtBin  string
	builtErr  error
)

// authzBinary builds the command once per test process, so a benchmark
// measures the binary users run, start-up included, and not the test
// binary. Without -trimpath, so the build cache of `go build ./...` serves
// it: the code is the same.
func authzBinary(b *testing.B) string {
	b.Helper()
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authz-bin")
		if err != nil {
			builtErr = err
			return
		}
		builtBin = filepath.Join(dir, "authz")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			builtErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtErr != nil {
		b.Fatal(builtErr)
	}
	return builtBin
}

// chainedProject writes a compose project of n services in which each
// depends on the one before: half hardened node apps, half busybox
// services with a shell healthcheck, so both the image catalog and the
// healthcheck rules are exercised on every service.
func chainedProject(b *testing.B, n int) string {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&sb, "  s%d:\n", i)
		if i%2 == 0 {
			sb.WriteString("    image: dhi.io/node:25-debian13-sfw-ent-dev\n")
		} else {
			sb.WriteString("    image: busybox:1.36\n    command: [\"sleep\", \"infinity\"]\n")
			sb.WriteString("    healthcheck:\n      test: [\"CMD-SHELL\", \"wget -q -O /dev/null http://localhost:8080/ || exit 1\"]\n")
		}
		if i > 0 {
			fmt.Fprintf(&sb, "    depends_on: [s%d]\n", i-1)
		}
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkCheckProcess runs `authz check --no-daemon` as a process, as
// CI runs it: start-up (policy compilation, catalog) plus the check, on
// the seed's solution (2 services) and on a generated project of 2,000
// services chained by depends_on.
func BenchmarkCheckProcess(b *testing.B) {
	bin := authzBinary(b)
	cases := []struct {
		name, dir string
		services  int
	}{
		{"seed-solution", filepath.Join("..", "..", "testdata", "seed", "solution"), 2},
		{"services-2000", "", 2000},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			dir := c.dir
			if dir == "" {
				dir = chainedProject(b, c.services)
			}
			want := fmt.Sprintf(" in %d services ", c.services)
			var peak int64
			for b.Loop() {
				cmd := exec.Command(bin, "check", "--no-daemon", dir)
				cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent")
				out, err := cmd.Output()
				// Exit 1 is findings (the generated project has errors
				// by design); anything else is the command failing.
				if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
					b.Fatalf("authz check: %v\n%s", err, out)
				}
				if !strings.Contains(string(out), want) {
					b.Fatalf("authz check did not check %d services:\n%.2000s", c.services, out)
				}
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
					peak = max(peak, ru.Maxrss)
				}
			}
			// The process's memory, not the benchmark's (-benchmem).
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
		})
	}
}

//go:build e2e && peer

package e2e

import (
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/loadgen"
)

// This file is built only with the peer tag (go test -tags 'e2e peer'):
// opa-docker-authz is not on the Go module proxy, so CI cannot build it,
// and the comparison runs where someone built it from its source
// (docs/performance.md says how). TestBenchAgainstDaemon is CI's part.

// peerEnv names the opa-docker-authz binary the side-by-side measurement
// loads.
const peerEnv = "OPA_DOCKER_AUTHZ_BIN"

// scripts/compare-opa-docker-authz.sh, run as its users run it, with the
// suite's daemon for image facts: both plugins answer the same creates
// (allowed and denied) and the developer-session mix without a failed
// call, each decides as its policy says, and the reports come out for
// docs/performance.md. Times are printed, never asserted: they are
// measured in benchmarks and by this tool, not judged by a test.
//
// CI measures one configuration briefly; docs/performance.md's table is
// this test with E2E_BENCH_CONCURRENCY=1,16 E2E_BENCH_UNIQUE_NAMES=1
// E2E_BENCH_DURATION=5s E2E_BENCH_OUT=DIR (the reports as JSON).
func TestCompareWithOpaDockerAuthz(t *testing.T) {
	peer := os.Getenv(peerEnv)
	if peer == "" {
		t.Fatal(peerEnv + " is not set: build opa-docker-authz from its source (docs/performance.md) and set it to the binary")
	}
	duration := cmp.Or(os.Getenv("E2E_BENCH_DURATION"), "2s")
	var runs [][]string
	for _, c := range strings.Split(cmp.Or(os.Getenv("E2E_BENCH_CONCURRENCY"), "16"), ",") {
		runs = append(runs, []string{"--concurrency", c})
		if os.Getenv("E2E_BENCH_UNIQUE_NAMES") != "" {
			runs = append(runs, []string{"--concurrency", c, "--unique-names"})
		}
	}
	all := map[string]map[string]loadgen.Report{}
	for _, flags := range runs {
		label := strings.Join(flags, " ")
		r := Runner{Dir: suite.Root, Env: []string{"DOCKER_HOST=" + suite.Plugin.DockerHost}}
		args := append([]string{"scripts/compare-opa-docker-authz.sh", peer,
			"--kind", "create-allow,create-deny,mix", "--duration", duration, "--warmup", "1s", "--format", "json"}, flags...)
		res := r.Run(10*time.Minute, "bash", args...)
		if !res.OK() {
			t.Fatalf("compare-opa-docker-authz.sh %s failed:\n%s", label, res)
		}
		all[label] = parseCompare(t, res.Stdout)
		for _, name := range []string{"opa-docker-authz", "hardened-authz"} {
			rep, ok := all[label][name]
			if !ok {
				t.Fatalf("%s: no %s report", label, name)
			}
			checkBench(t, label+" "+name, rep)
		}
	}
	if dir := os.Getenv("E2E_BENCH_OUT"); dir != "" {
		b, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "compare-opa-docker-authz.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// parseCompare splits the script's output, "== NAME (…)" then NAME's JSON
// report, into the reports by name.
func parseCompare(t *testing.T, out string) map[string]loadgen.Report {
	t.Helper()
	reports := map[string]loadgen.Report{}
	for _, part := range strings.Split(out, "== ")[1:] {
		head, body, ok := strings.Cut(part, "\n")
		if !ok {
			t.Fatalf("a report without a body: %q", part)
		}
		name, _, _ := strings.Cut(head, " ")
		var rep loadgen.Report
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("%s: the report is not JSON: %v\n%s", name, err, body)
		}
		reports[name] = rep
	}
	return reports
}

//go:build e2e

package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/loadgen"
)

// `authz bench` against the suite's plugin, which asks the suite's dockerd
// for image facts as on a host: the creates (allowed and denied) and the
// developer-session mix are answered without a failed call and decided as
// the policies say. The numbers are printed, never asserted; CI's short
// run shows the tool works against a real daemon. docs/performance.md's
// side-by-side table with opa-docker-authz comes from the same load
// (compare_peer_test.go).
func TestBenchAgainstDaemon(t *testing.T) {
	res := suite.Docker.Run(5*time.Minute, suite.Plugin.Bin, "bench", "--socket", suite.Plugin.Socket,
		"--kind", "create-allow,create-deny,mix", "--concurrency", "16",
		"--duration", "2s", "--warmup", "1s", "--format", "json")
	if !res.OK() {
		t.Fatalf("authz bench failed:\n%s", res)
	}
	var rep loadgen.Report
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, res.Stdout)
	}
	checkBench(t, "hardened-authz", rep)
}

// checkBench asserts what does not depend on the machine's speed: no
// failed call, and the plugin deciding as its policy says: the curl
// sidecar allowed, the curl healthcheck on dhi.io/node denied, the mix
// holding both.
func checkBench(t *testing.T, label string, rep loadgen.Report) {
	t.Helper()
	if n := rep.Errors(); n > 0 {
		t.Errorf("%s: %d failed calls", label, n)
	}
	for _, c := range rep.Results {
		p := c.Plugin
		switch {
		case p.Allowed+p.Denied == 0:
			t.Errorf("%s %s: no decisions measured", label, c.Kind)
		case c.Kind == "create-allow" && p.Denied > 0:
			t.Errorf("%s: the curl sidecar create was denied %d times", label, p.Denied)
		case c.Kind == "create-deny" && p.Allowed > 0:
			t.Errorf("%s: the curl healthcheck on dhi.io/node was allowed %d times", label, p.Allowed)
		case c.Kind == "mix" && (p.Allowed == 0 || p.Denied == 0):
			t.Errorf("%s: the mix got %d allowed and %d denied: it holds both", label, p.Allowed, p.Denied)
		}
		t.Logf("%-44s %-12s p50 %8s p99 %8s %7.0f/s (floor p50 %8s, %7.0f/s)", label, c.Kind,
			p.P50.Round(time.Microsecond), p.P99.Round(time.Microsecond), p.Throughput,
			c.Floor.P50.Round(time.Microsecond), c.Floor.Throughput)
	}
}

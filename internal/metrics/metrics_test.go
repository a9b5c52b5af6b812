package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/imagescan"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

type fakeAuthorizer struct{}

func (fakeAuthorizer) Stats() (int64, int64) { return 3, 4 }

type fakeScanner struct{}

func (fakeScanner) Stats() imagescan.Stats {
	return imagescan.Stats{Scans: 5, Failures: 6, CacheHits: 7, CacheMisses: 8, Cached: 2, CachedBytes: 1000}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func deny(rule string) authz.Record {
	return authz.Record{Action: "container.create", Violations: []policy.Violation{{Rule: rule}}, Duration: 800 * time.Microsecond}
}

// A real scrape shows the counters moving, with their labels.
func TestScrapeShowsDecisions(t *testing.T) {
	var dropped atomic.Int64
	m := New(Sources{Authorizer: fakeAuthorizer{}, Scanner: fakeScanner{}, DecisionLogDropped: dropped.Load})
	srv := httptest.NewServer(m.Handler(nil))
	defer srv.Close()
	ctx := context.Background()

	m.Observe(ctx, deny("HA002"))
	m.Observe(ctx, authz.Record{Action: "container.create", Allow: true, Warnings: []policy.Violation{{Rule: "HA008"}}, Duration: time.Millisecond})
	m.Observe(ctx, authz.Record{Action: "other", Allow: true, Duration: 500 * time.Nanosecond})
	m.Observe(ctx, authz.Record{Action: "container.create", Allow: true, WouldDeny: true, Mode: enforce.DryRun, Demoted: []policy.Violation{{Rule: "HA001"}}})
	m.Observe(ctx, authz.Record{Action: "container.create", Allow: true, Skipped: []enforce.Skip{{Violation: policy.Violation{Rule: "HA003"}}}, Expired: []enforce.Expired{{Rule: "HA004"}}})
	m.Observe(ctx, authz.Record{Action: "container.create", Builtin: authz.RuleFactsMissing})
	m.ObserveScan(3*time.Second, nil)
	m.PolicyReloaded("abc123")
	m.PolicyReloadFailed()
	dropped.Store(9)

	_, body := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`hardened_authz_decisions_total{action="container.create",result="deny"} 2`,
		`hardened_authz_decisions_total{action="container.create",result="allow"} 1`,
		`hardened_authz_decisions_total{action="container.create",result="dryrun"} 1`,
		`hardened_authz_decisions_total{action="container.create",result="skipped"} 1`,
		`hardened_authz_decisions_total{action="other",result="allow"} 1`,
		`hardened_authz_rule_findings_total{action="container.create",effect="deny",rule="HA002"} 1`,
		`hardened_authz_rule_findings_total{action="container.create",effect="deny",rule="HA092"} 1`,
		`hardened_authz_rule_findings_total{action="container.create",effect="warn",rule="HA008"} 1`,
		`hardened_authz_rule_findings_total{action="container.create",effect="demoted",rule="HA001"} 1`,
		`hardened_authz_rule_findings_total{action="container.create",effect="skipped",rule="HA003"} 1`,
		`hardened_authz_exception_matches_total{rule="HA003"} 1`,
		`hardened_authz_exception_expiries_total 1`,
		`hardened_authz_decision_duration_seconds_bucket{action="container.create",le="0.001"} 5`,
		`hardened_authz_decision_duration_seconds_bucket{action="other",le="1e-05"} 1`,
		`hardened_authz_decision_duration_seconds_count{action="container.create"} 5`,
		`hardened_authz_image_scan_duration_seconds_bucket{le="5"} 1`,
		`hardened_authz_policy_reloads_total 1`,
		`hardened_authz_policy_reload_failures_total 1`,
		`hardened_authz_policy_revision_info{revision="abc123"} 1`,
		`hardened_authz_facts_missing_total 3`,
		`hardened_authz_overloaded_total 4`,
		`hardened_authz_image_scans_total 5`,
		`hardened_authz_image_scan_failures_total 6`,
		`hardened_authz_image_index_cache_hits_total 7`,
		`hardened_authz_image_index_cache_misses_total 8`,
		`hardened_authz_image_indexes_cached_bytes 1000`,
		`hardened_authz_decision_log_dropped_total 9`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(body, `rule=""`) {
		t.Error("an empty rule label")
	}

	// The counters move between scrapes.
	m.Observe(ctx, deny("HA002"))
	m.PolicyReloaded("def456")
	_, body = get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`hardened_authz_decisions_total{action="container.create",result="deny"} 3`,
		`hardened_authz_rule_findings_total{action="container.create",effect="deny",rule="HA002"} 2`,
		`hardened_authz_policy_revision_info{revision="def456"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("second scrape lacks %s", want)
		}
	}
	if strings.Contains(body, `revision="abc123"`) {
		t.Error("the old revision is still reported")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	m := New(Sources{})
	var ready atomic.Bool
	srv := httptest.NewServer(m.Handler(func() error {
		if !ready.Load() {
			return errors.New("the plugin socket is not listening")
		}
		return nil
	}))
	defer srv.Close()
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "not listening") {
		t.Errorf("/readyz before ready: %d %q", code, body)
	}
	ready.Store(true)
	if code, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
}

// Counting a decision allocates nothing once its counters exist.
func TestObserveDoesNotAllocate(t *testing.T) {
	m := New(Sources{})
	ctx := context.Background()
	recs := []authz.Record{deny("HA002"), {Action: "other", Allow: true}, {Action: "container.create", Allow: true, Warnings: []policy.Violation{{Rule: "HA008"}}}}
	for _, r := range recs {
		m.Observe(ctx, r)
	}
	if n := testing.AllocsPerRun(200, func() {
		for _, r := range recs {
			m.Observe(ctx, r)
		}
	}); n != 0 {
		t.Errorf("%v allocations per round", n)
	}
}

// Rule IDs past the bound share one label value.
func TestRuleLabelsAreBounded(t *testing.T) {
	m := New(Sources{})
	for i := range maxRules + 10 {
		m.Observe(context.Background(), deny(fmt.Sprintf("X%04d", i)))
	}
	srv := httptest.NewServer(m.Handler(nil))
	defer srv.Close()
	_, body := get(t, srv.URL+"/metrics")
	if n := strings.Count(body, "hardened_authz_rule_findings_total{"); n > maxRules+1 {
		t.Errorf("%d rule series", n)
	}
	if !strings.Contains(body, `rule="other"} 10`) {
		t.Error("no other series for the rules past the bound")
	}
}

// The hooks other parts call do nothing without --metrics-addr.
func TestNilMetricsHooks(t *testing.T) {
	var m *Metrics
	m.PolicyReloaded("x")
	m.PolicyReloadFailed()
	m.SetPolicyRevision("x")
	m.ExceptionMatched("HA001")
	m.ExceptionExpired()
	m.ObserveScan(time.Second, nil)
}

func BenchmarkObserve(b *testing.B) {
	m := New(Sources{})
	ctx := context.Background()
	rec := deny("HA002")
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(ctx, rec)
	}
}

// Package metrics exposes the plugin's Prometheus metrics, on a registry
// of its own, and its health endpoints.
//
// Decisions are counted on the request path, so that path allocates
// nothing: the counters of each action and rule are resolved once and
// kept in copy-on-write maps, read without a lock. Everything else (the
// image scanner's and the authorizer's counters, dropped decision-log
// lines) is read when Prometheus scrapes.
package metrics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/imagescan"
)

// Namespace prefixes every metric of the plugin.
const Namespace = "hardened_authz"

// Results of a decision, the values of the decisions_total result label.
const (
	// ResultAllow: allowed, and nothing would have denied it.
	ResultAllow = "allow"
	// ResultDeny: denied.
	ResultDeny = "deny"
	// ResultWarn and ResultDryRun: the policies denied it, and the global
	// --mode (warn, dryrun) let it through.
	ResultWarn   = "warn"
	ResultDryRun = "dryrun"
	// ResultSkipped: allowed because an exception let a deny through.
	ResultSkipped = "skipped"
)

// results indexes the result label values, for the per-action arrays.
var results = [...]string{ResultAllow, ResultDeny, ResultWarn, ResultDryRun, ResultSkipped}

const (
	iAllow = iota
	iDeny
	iWarn
	iDryRun
	iSkipped
)

// Effects of a rule's finding, the values of the rule_findings_total
// effect label.
const (
	// EffectDeny: the rule denied the request.
	EffectDeny = "deny"
	// EffectWarn: a warning rule's finding; the rule did not deny.
	EffectWarn = "warn"
	// EffectDemoted: a deny that did not deny, by its rule's mode or the
	// global mode.
	EffectDemoted = "demoted"
	// EffectSkipped: a finding an exception let through.
	EffectSkipped = "skipped"
)

// Bounds on label values. Actions and rule IDs come from the plugin and
// the policies, never from a client, but a policy could still mint rule
// IDs without end: past the bound they are counted under OtherLabel.
const (
	maxActions = 64
	maxRules   = 512
	// OtherLabel stands for the label values past the bounds.
	OtherLabel = "other"
)

// DurationBuckets are the decision latency histogram's upper bounds, in
// seconds: from the fast path's microseconds to the decision deadline.
var DurationBuckets = []float64{
	10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
	1, 2.5, 5, 10,
}

// ScanBuckets are the image scan histogram's upper bounds, in seconds: a
// small image exports in tens of milliseconds, a large one in minutes.
var ScanBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Sources are what the metrics read when scraped. Any may be nil.
type Sources struct {
	// Authorizer's Stats give the facts-missing (HA092) and overloaded
	// (HA093) denials.
	Authorizer interface {
		Stats() (factsMissing, overloaded int64)
	}
	// Scanner's Stats give the image index cache and scan counters.
	Scanner interface{ Stats() imagescan.Stats }
	// DecisionLogDropped counts the decision-log lines lost to a failing
	// sink.
	DecisionLogDropped func() int64
}

// Metrics holds the plugin's metrics and the registry that exposes them.
type Metrics struct {
	reg *prometheus.Registry

	decisions *prometheus.CounterVec
	findings  *prometheus.CounterVec
	duration  *prometheus.HistogramVec

	scans              prometheus.Histogram
	reloads            prometheus.Counter
	reloadFailures     prometheus.Counter
	revision           *prometheus.GaugeVec
	exceptionMatches   *prometheus.CounterVec
	exceptionsExpired  prometheus.Counter
	currentRevision    string
	revisionMu         sync.Mutex
	actions            atomic.Pointer[map[string]*actionMetrics]
	actionsMu          sync.Mutex
	rulesSeen          atomic.Int64 // distinct rule label values, for maxRules
	exceptionRulesSeen atomic.Int64
	exceptionRules     atomic.Pointer[map[string]prometheus.Counter]
	exceptionMu        sync.Mutex
}

// actionMetrics are one action's resolved counters.
type actionMetrics struct {
	results  [len(results)]prometheus.Counter
	duration prometheus.Observer
	// findings by effect, keyed by rule ID, copy-on-write.
	denyRules, warnRules, demotedRules, skippedRules atomic.Pointer[map[string]prometheus.Counter]
	mu                                               sync.Mutex
	name                                             string
}

// New registers the plugin's metrics, the Go runtime's and the process's
// on a new registry, reading src when scraped.
func New(src Sources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "decisions_total",
		Help: "Decisions on Docker API requests, by action (container.create, plugin.disable, …; fast-path requests by their route kind) and result (allow, deny; warn and dryrun: denied by the policies, let through by --mode; skipped: let through by an exception).",
	}, []string{"action", "result"})
	m.findings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "rule_findings_total",
		Help: "Rule findings in decisions, by action, rule ID and effect (deny: the rule denied the request; warn: a warning rule's finding; demoted: a deny turned into a warning by a rule or global mode; skipped: let through by an exception).",
	}, []string{"action", "rule", "effect"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "decision_duration_seconds",
		Help:    "Time from receiving a request to the decision, by action.",
		Buckets: DurationBuckets,
	}, []string{"action"})
	m.scans = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "image_scan_duration_seconds",
		Help:    "Time an image export and index took, from the scan's start (waiting for an export slot included) to its outcome; failed scans included.",
		Buckets: ScanBuckets,
	})
	m.reloads = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "policy_reloads_total",
		Help: "Policy sets loaded and swapped in after start-up.",
	})
	m.reloadFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "policy_reload_failures_total",
		Help: "Policy reloads refused (the set did not compile or failed validation); the previous set kept serving.",
	})
	m.revision = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "policy_revision_info",
		Help: "The policy revision serving decisions: 1 for the current revision.",
	}, []string{"revision"})
	m.exceptionMatches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "exception_matches_total",
		Help: "Rule findings skipped because a policy exception matched them, by rule ID.",
	}, []string{"rule"})
	m.exceptionsExpired = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "exception_expiries_total",
		Help: "Exceptions that no longer applied because their expiry had passed when they would have matched.",
	})
	m.reg.MustRegister(m.decisions, m.findings, m.duration, m.scans, m.reloads, m.reloadFailures,
		m.revision, m.exceptionMatches, m.exceptionsExpired,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&scrapeCollector{src: src})
	empty := map[string]*actionMetrics{}
	m.actions.Store(&empty)
	noRules := map[string]prometheus.Counter{}
	m.exceptionRules.Store(&noRules)
	return m
}

// Registry is the registry the metrics are on, for the handler and tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Observe counts one decision, its rules' findings, and the exceptions
// it matched or found expired. It implements authz.Observer, and
// allocates nothing once the action's and rules' counters exist.
func (m *Metrics) Observe(_ context.Context, rec authz.Record) {
	am := m.action(rec.Action)
	am.results[resultOf(&rec)].Inc()
	am.duration.Observe(rec.Duration.Seconds())
	if rec.Builtin != "" {
		m.finding(am, &am.denyRules, EffectDeny, rec.Builtin).Inc()
	}
	for i := range rec.Violations {
		m.finding(am, &am.denyRules, EffectDeny, rec.Violations[i].Rule).Inc()
	}
	for i := range rec.Warnings {
		m.finding(am, &am.warnRules, EffectWarn, rec.Warnings[i].Rule).Inc()
	}
	for i := range rec.Demoted {
		m.finding(am, &am.demotedRules, EffectDemoted, rec.Demoted[i].Rule).Inc()
	}
	for i := range rec.Skipped {
		m.finding(am, &am.skippedRules, EffectSkipped, rec.Skipped[i].Violation.Rule).Inc()
		m.ExceptionMatched(rec.Skipped[i].Violation.Rule)
	}
	for range rec.Expired {
		m.ExceptionExpired()
	}
}

// resultOf is the decisions_total result of rec.
func resultOf(rec *authz.Record) int {
	switch {
	case !rec.Allow:
		return iDeny
	case rec.WouldDeny && rec.Mode == enforce.DryRun:
		return iDryRun
	case rec.WouldDeny:
		return iWarn
	}
	for i := range rec.Skipped {
		if !rec.Skipped[i].Warning {
			return iSkipped
		}
	}
	return iAllow
}

// action returns the counters of action, resolving them on first use.
func (m *Metrics) action(name string) *actionMetrics {
	if am := (*m.actions.Load())[name]; am != nil {
		return am
	}
	m.actionsMu.Lock()
	defer m.actionsMu.Unlock()
	cur := *m.actions.Load()
	if am := cur[name]; am != nil {
		return am
	}
	label := name
	if len(cur) >= maxActions {
		label = OtherLabel
		if am := cur[OtherLabel]; am != nil {
			return am
		}
	}
	am := &actionMetrics{name: label, duration: m.duration.WithLabelValues(label)}
	for i, r := range results {
		am.results[i] = m.decisions.WithLabelValues(label, r)
	}
	none := map[string]prometheus.Counter{}
	for _, p := range []*atomic.Pointer[map[string]prometheus.Counter]{&am.denyRules, &am.warnRules, &am.demotedRules, &am.skippedRules} {
		p.Store(&none)
	}
	next := make(map[string]*actionMetrics, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[name] = am
	next[label] = am
	m.actions.Store(&next)
	return am
}

// finding returns the counter of rule's findings with effect in am,
// resolving it on first use.
func (m *Metrics) finding(am *actionMetrics, rules *atomic.Pointer[map[string]prometheus.Counter], effect, rule string) prometheus.Counter {
	if c := (*rules.Load())[rule]; c != nil {
		return c
	}
	am.mu.Lock()
	defer am.mu.Unlock()
	cur := *rules.Load()
	if c := cur[rule]; c != nil {
		return c
	}
	label := rule
	if m.rulesSeen.Add(1) > maxRules {
		label = OtherLabel
	}
	c := m.findings.WithLabelValues(am.name, label, effect)
	next := make(map[string]prometheus.Counter, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[rule] = c
	rules.Store(&next)
	return c
}

// ObserveScan records one image scan; give it to
// imagescan.Scanner.ObserveScans.
// Like every hook below, it does nothing on a nil *Metrics (no
// --metrics-addr), so callers need not check.
func (m *Metrics) ObserveScan(d time.Duration, _ error) {
	if m == nil {
		return
	}
	m.scans.Observe(d.Seconds())
}

// PolicyReloaded records a reload that swapped in revision, which
// becomes the one policy_revision_info reports.
func (m *Metrics) PolicyReloaded(revision string) {
	if m == nil {
		return
	}
	m.reloads.Inc()
	m.SetPolicyRevision(revision)
}

// SetPolicyRevision reports revision as the one serving, without
// counting a reload: the set loaded at start-up.
func (m *Metrics) SetPolicyRevision(revision string) {
	if m == nil {
		return
	}
	m.revisionMu.Lock()
	defer m.revisionMu.Unlock()
	if m.currentRevision != "" && m.currentRevision != revision {
		m.revision.DeleteLabelValues(m.currentRevision)
	}
	m.currentRevision = revision
	m.revision.WithLabelValues(revision).Set(1)
}

// PolicyReloadFailed records a reload that was refused; the previous set
// keeps serving.
func (m *Metrics) PolicyReloadFailed() {
	if m == nil {
		return
	}
	m.reloadFailures.Inc()
}

// ExceptionMatched records a finding of rule that an exception skipped.
func (m *Metrics) ExceptionMatched(rule string) {
	if m == nil {
		return
	}
	if c := (*m.exceptionRules.Load())[rule]; c != nil {
		c.Inc()
		return
	}
	m.exceptionMu.Lock()
	defer m.exceptionMu.Unlock()
	cur := *m.exceptionRules.Load()
	c := cur[rule]
	if c == nil {
		label := rule
		if m.exceptionRulesSeen.Add(1) > maxRules {
			label = OtherLabel
		}
		c = m.exceptionMatches.WithLabelValues(label)
		next := make(map[string]prometheus.Counter, len(cur)+1)
		for k, v := range cur {
			next[k] = v
		}
		next[rule] = c
		m.exceptionRules.Store(&next)
	}
	c.Inc()
}

// ExceptionExpired records an exception that would have matched but had
// expired.
func (m *Metrics) ExceptionExpired() {
	if m == nil {
		return
	}
	m.exceptionsExpired.Inc()
}

// scrapeCollector reads the counters other packages keep, when scraped.
type scrapeCollector struct{ src Sources }

var (
	descFactsMissing = prometheus.NewDesc(Namespace+"_facts_missing_total",
		"Creates and starts denied (HA092) because the image's files were not known in time.", nil, nil)
	descOverloaded = prometheus.NewDesc(Namespace+"_overloaded_total",
		"Decisions denied (HA093) because they could not be made within --decision-timeout.", nil, nil)
	descCacheHits = prometheus.NewDesc(Namespace+"_image_index_cache_hits_total",
		"Decisions' image index lookups answered from memory at once.", nil, nil)
	descCacheMisses = prometheus.NewDesc(Namespace+"_image_index_cache_misses_total",
		"Decisions' image index lookups that waited for a scan, or got none.", nil, nil)
	descScans = prometheus.NewDesc(Namespace+"_image_scans_total",
		"Image exports indexed.", nil, nil)
	descScanFailures = prometheus.NewDesc(Namespace+"_image_scan_failures_total",
		"Image scans that failed (each is retried with a backoff).", nil, nil)
	descDiskHits = prometheus.NewDesc(Namespace+"_image_index_disk_hits_total",
		"Image indexes read from --state-dir instead of exporting the image.", nil, nil)
	descEventsDropped = prometheus.NewDesc(Namespace+"_image_events_dropped_total",
		"Daemon image events dropped from a full backlog (those images are indexed on their first create).", nil, nil)
	descCached = prometheus.NewDesc(Namespace+"_image_indexes_cached",
		"Image indexes held in memory.", nil, nil)
	descCachedBytes = prometheus.NewDesc(Namespace+"_image_indexes_cached_bytes",
		"Estimated size of the image indexes held in memory.", nil, nil)
	descPending = prometheus.NewDesc(Namespace+"_image_scans_pending",
		"Image scans running or queued.", nil, nil)
	descLogDropped = prometheus.NewDesc(Namespace+"_decision_log_dropped_total",
		"Decision-log lines lost because the sink failed (full disk, removed file, closed pipe); the decisions stood.", nil, nil)
)

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.src.Authorizer != nil {
		ch <- descFactsMissing
		ch <- descOverloaded
	}
	if c.src.Scanner != nil {
		for _, d := range []*prometheus.Desc{descCacheHits, descCacheMisses, descScans, descScanFailures, descDiskHits, descEventsDropped, descCached, descCachedBytes, descPending} {
			ch <- d
		}
	}
	if c.src.DecisionLogDropped != nil {
		ch <- descLogDropped
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	if a := c.src.Authorizer; a != nil {
		fm, ov := a.Stats()
		counter(descFactsMissing, fm)
		counter(descOverloaded, ov)
	}
	if s := c.src.Scanner; s != nil {
		st := s.Stats()
		counter(descCacheHits, st.CacheHits)
		counter(descCacheMisses, st.CacheMisses)
		counter(descScans, st.Scans)
		counter(descScanFailures, st.Failures)
		counter(descDiskHits, st.DiskHits)
		counter(descEventsDropped, st.EventsDropped)
		gauge(descCached, st.Cached)
		gauge(descCachedBytes, st.CachedBytes)
		gauge(descPending, st.Pending)
	}
	if f := c.src.DecisionLogDropped; f != nil {
		counter(descLogDropped, f())
	}
}

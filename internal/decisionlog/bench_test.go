package decisionlog

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/metrics"
)

// BenchmarkObserved is a decision without, then with, the decision log
// (to a file) and the metrics on: the target is at most 10% more.
func BenchmarkObserved(b *testing.B) {
	ctx := context.Background()
	cases := []struct {
		name string
		req  authorization.Request
	}{
		{"create-allow", allowedCreate(b)},
		{"create-deny", deniedCreate(b)},
		{"inspect", authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/0123456789ab/json"}},
	}
	for _, c := range cases {
		for _, on := range []bool{false, true} {
			a := newAuthorizer(b)
			name := c.name + "/off"
			if on {
				name = c.name + "/log+metrics"
				l, err := Open(filepath.Join(b.TempDir(), "decisions.log"), Options{
					Labels: map[string]string{"app": "hardened-authz"}, Revision: func(uint64) string { return "bench" },
				})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				a.Observer = authz.Observers{metrics.New(metrics.Sources{}), l}
			}
			a.AuthZReq(ctx, c.req) // resolve the metrics' label values first
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					a.AuthZReq(ctx, c.req)
				}
			})
		}
	}
}

// capture keeps the last record it was told of.
type capture struct{ rec authz.Record }

func (c *capture) Observe(_ context.Context, rec authz.Record) { c.rec = rec }

// BenchmarkLine is the decision log's and the metrics' own cost for one
// decision, without the decision: what BenchmarkObserved adds, measured
// without the decision's noise.
func BenchmarkLine(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		req  authorization.Request
	}{{"create-allow", allowedCreate(b)}, {"create-deny", deniedCreate(b)}} {
		a := newAuthorizer(b)
		var got capture
		a.Observer = &got
		a.AuthZReq(ctx, c.req)
		l, err := Open(filepath.Join(b.TempDir(), "decisions.log"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		m := metrics.New(metrics.Sources{})
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Observe(ctx, got.rec)
				l.Observe(ctx, got.rec)
			}
		})
	}
}

// BenchmarkOverhead alternates a decision without and with the decision
// log (to a file) and the metrics, call by call, so that both see the
// same load on a shared machine, and reports each one's time and the
// overhead in percent.
func BenchmarkOverhead(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		req  authorization.Request
	}{{"create-allow", allowedCreate(b)}, {"create-deny", deniedCreate(b)}} {
		off, on := newAuthorizer(b), newAuthorizer(b)
		l, err := Open(filepath.Join(b.TempDir(), "decisions.log"), Options{Revision: func(uint64) string { return "bench" }})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		on.Observer = authz.Observers{metrics.New(metrics.Sources{}), l}
		on.AuthZReq(ctx, c.req)
		// As is, the decision cache answers every call after the first;
		// "/new" names a new container each time, so every decision is
		// evaluated and its input encoded anew.
		for _, unique := range []bool{false, true} {
			name := c.name
			if unique {
				name += "/new"
			}
			b.Run(name, func(b *testing.B) {
				var tOff, tOn time.Duration
				// The two authorizers share one policy set and its cache:
				// with "/new" each gets a name of its own.
				offReq, onReq, uri, n := c.req, c.req, c.req.RequestURI, 0
				for b.Loop() {
					if unique {
						n++
						offReq.RequestURI = uri + "-off-" + strconv.Itoa(n)
						onReq.RequestURI = uri + "-on-" + strconv.Itoa(n)
					}
					t0 := time.Now()
					off.AuthZReq(ctx, offReq)
					t1 := time.Now()
					on.AuthZReq(ctx, onReq)
					tOn += time.Since(t1)
					tOff += t1.Sub(t0)
				}
				b.ReportMetric(float64(tOff.Nanoseconds())/float64(b.N), "off-ns/op")
				b.ReportMetric(float64(tOn.Nanoseconds())/float64(b.N), "on-ns/op")
				b.ReportMetric(100*(float64(tOn)/float64(tOff)-1), "overhead-%")
			})
		}
	}
}

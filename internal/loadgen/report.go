package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Report is a whole `authz bench` run.
type Report struct {
	Socket      string       `json:"socket"`
	Concurrency int          `json:"concurrency"`
	Duration    string       `json:"duration,omitempty"`
	Requests    int          `json:"requests,omitempty"`
	UniqueNames bool         `json:"unique_names"`
	Results     []Comparison `json:"results"`
}

// Errors is every failed call in the run.
func (r Report) Errors() int {
	n := 0
	for _, c := range r.Results {
		n += c.Errors()
	}
	return n
}

// WriteJSON writes the report as one indented JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes one row per kind and target, then the ratios, then
// any errors with the first failure's description.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "kind\ttarget\tcalls\terrors\tallow\tdeny\tp50\tp95\tp99\tmax\tdecisions/s\tdials\t\n")
	row := func(kind, target string, x Result) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%.0f\t%d\t\n", kind, target, x.Calls, x.Errors+x.WarmupErrors,
			x.Allowed, x.Denied, ms(x.P50), ms(x.P95), ms(x.P99), ms(x.Max), x.Throughput, x.Dials)
	}
	for _, c := range r.Results {
		row(c.Kind, "plugin", c.Plugin)
		row(c.Kind, "floor", c.Floor)
		fmt.Fprintf(tw, "%s\tplugin/floor\t\t\t\t\t%.1fx\t\t%.1fx\t\t%.2fx\t\t\n", c.Kind, c.P50Ratio, c.P99Ratio, c.ThroughputRatio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Results {
		if m := c.Memory; m != nil {
			fmt.Fprintf(w, "%s: plugin resident %s → %s (anonymous %s, peak %s)\n", c.Kind, mib(m.RSSBefore), mib(m.RSSAfter), mib(m.AnonAfter), mib(m.PeakRSS))
		}
	}
	for _, c := range r.Results {
		for _, t := range []struct {
			name string
			x    Result
		}{{"plugin", c.Plugin}, {"floor", c.Floor}} {
			if n := t.x.Errors + t.x.WarmupErrors; n > 0 {
				fmt.Fprintf(w, "%s %s: %d errors (%d in warm-up); first: %s\n", c.Kind, t.name, n, t.x.WarmupErrors, t.x.FirstError)
			}
		}
	}
	return nil
}

// ms formats a latency in milliseconds with three significant places.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.3fms", v)
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

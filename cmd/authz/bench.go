package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/loadgen"
)

type benchOptions struct {
	socket      string
	kinds       string
	concurrency int
	duration    time.Duration
	requests    int
	warmup      time.Duration
	format      string
	unique      bool
	pid         int
}

func newBenchCommand() *cobra.Command {
	o := benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench --socket PATH",
		Short: "Load an authorization plugin's socket as dockerd does, against an allow-all floor",
		Long: `Send the plugin calls dockerd sends to any Docker authorization plugin
(this one, or another) over its unix socket, with keep-alive as dockerd's
plugin client has it, and report latency percentiles, decisions per second
and errors. The same load, in the same run, goes to an allow-all plugin
started in this process: the floor, what the socket, HTTP and JSON cost on
this machine. plugin/floor is the plugin's own cost as a ratio.

--kind mix is one developer session, weighted as docker compose up, ps
and logs, docker run and docker ps send it (pings, lists, inspects,
events, image inspects, creates allowed and denied, starts, waits, logs);
see docs/performance.md. Any other kind sends one call over and over; give
several separated by commas. Exits 1 if any call failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.socket, "socket", "", "unix socket of the plugin to load (required)")
	f.StringVar(&o.kinds, "kind", "mix", "what to send, comma-separated: "+strings.Join(loadgen.Kinds(), ", "))
	f.IntVar(&o.concurrency, "concurrency", 16, "calls in flight at once, as dockerd serving that many API requests")
	f.DurationVar(&o.duration, "duration", 5*time.Second, "how long to measure each kind on each target")
	f.IntVar(&o.requests, "requests", 0, "measure this many API calls per kind and target instead of --duration")
	f.DurationVar(&o.warmup, "warmup", time.Second, "load each target this long before measuring")
	f.StringVar(&o.format, "format", "text", "output: text or json")
	f.IntVar(&o.pid, "pid", 0, "the plugin's process ID: report its resident memory before and after each kind (Linux)")
	f.BoolVar(&o.unique, "unique-names", false, "give every container create a new container name, so no decision cache answers it (default: creates repeat, as up after down)")
	return cmd
}

func runBench(cmd *cobra.Command, o benchOptions) error {
	if o.socket == "" {
		return usageError{errors.New("--socket is required")}
	}
	if o.format != "text" && o.format != "json" {
		return usageError{fmt.Errorf("--format %q: want text or json", o.format)}
	}
	if o.pid < 0 {
		return usageError{fmt.Errorf("--pid %d: give the plugin's process ID", o.pid)}
	}
	if o.concurrency < 1 {
		return usageError{errors.New("--concurrency must be at least 1")}
	}
	if o.requests < 0 || (o.requests == 0 && o.duration <= 0) {
		return usageError{errors.New("give a positive --duration or --requests")}
	}
	var kinds []string
	schedules := map[string][]loadgen.Call{}
	for _, k := range strings.Split(o.kinds, ",") {
		k = strings.TrimSpace(k)
		s, err := loadgen.Schedule(k)
		if err != nil {
			return usageError{fmt.Errorf("--kind: %w", err)}
		}
		kinds, schedules[k] = append(kinds, k), s
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := loadgen.Activate(actx, o.socket)
	cancel()
	if err != nil {
		return err
	}
	floor, err := loadgen.StartFloor()
	if err != nil {
		return fmt.Errorf("start the allow-all floor: %w", err)
	}
	defer floor.Close()

	rep := loadgen.Report{Socket: o.socket, Concurrency: o.concurrency, Requests: o.requests, UniqueNames: o.unique}
	if o.requests == 0 {
		rep.Duration = o.duration.String()
	}
	for _, k := range kinds {
		c, err := loadgen.Compare(ctx, k, floor, loadgen.Options{
			Socket: o.socket, Schedule: schedules[k], Concurrency: o.concurrency,
			Duration: o.duration, Requests: o.requests, Warmup: o.warmup, UniqueNames: o.unique, PID: o.pid,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		rep.Results = append(rep.Results, c)
	}
	out := cmd.OutOrStdout()
	if o.format == "json" {
		err = rep.WriteJSON(out)
	} else {
		err = rep.WriteText(out)
	}
	if err != nil {
		return err
	}
	if n := rep.Errors(); n > 0 {
		// After the report, so the numbers are seen; exit 1 because they
		// include failures.
		return fmt.Errorf("bench: %d calls failed (see the report)", n)
	}
	return nil
}

// Package loadgen drives a Docker authorization plugin's unix socket the way
// dockerd does, with a recorded mix of calls or a single kind of call, and
// measures it against an allow-all plugin driven by the identical load: the
// floor that the socket, HTTP and JSON cost on this machine, whatever the
// plugin decides.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"
)

// Plugin API paths and the media type dockerd sends and accepts.
const (
	reqPath   = "/AuthZPlugin.AuthZReq"
	resPath   = "/AuthZPlugin.AuthZRes"
	mediaType = "application/vnd.docker.plugins.v1.2+json"
)

// CallTimeout is dockerd's plugin client timeout for one call.
const CallTimeout = 30 * time.Second

// Options is one measurement of one target.
type Options struct {
	// Socket is the plugin's unix socket.
	Socket string
	// Schedule is the calls to send, in order, cycling (see Schedule).
	Schedule []Call
	// Concurrency is the number of calls in flight, as dockerd has one
	// per API request it is serving.
	Concurrency int
	// Duration ends the measurement after this long, unless Requests is
	// set.
	Duration time.Duration
	// Requests, when positive, ends it after this many API calls instead.
	Requests int
	// Warmup runs the same load this long before measuring, so that
	// connections, caches and the Go runtime are warm.
	Warmup time.Duration
	// UniqueNames gives every container create a container name of its
	// own, as the replicas of a service and a first `up` of a project
	// have, so that no cache of earlier decisions can answer it. Without
	// it a create repeats exactly, as `up` after `down` does.
	UniqueNames bool
	// PID, when positive, is the plugin's process: Compare reads its
	// resident memory around the plugin's part (Comparison.Memory).
	PID int
}

// Client is an HTTP client for a plugin socket built as dockerd builds its
// plugin client (github.com/moby/moby pkg/plugins): one client per
// plugin, a zero http.Transport with compression disabled, so keep-alive
// with Go's default of 2 idle connections per host: above 2 calls at once,
// dockerd opens, and later closes, further connections. dials counts them.
func Client(socket string, dials *atomic.Int64) *http.Client {
	d := &net.Dialer{Timeout: 32 * time.Second}
	tr := &http.Transport{
		DisableCompression: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if dials != nil {
				dials.Add(1)
			}
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &http.Client{Transport: tr, Timeout: CallTimeout}
}

// sample is one plugin call's outcome.
type sample struct {
	latency time.Duration
	err     bool
	allowed bool
	res     bool // an AuthZRes: its answer is not a decision on a request
}

// Result is one target's measurement.
type Result struct {
	// Calls is the number of plugin calls answered or failed (AuthZReq
	// and AuthZRes each count): the decisions.
	Calls int `json:"calls"`
	// Errors is the calls that failed: a transport error, a status other
	// than 200, a body that is not a plugin response, or one with Err set.
	Errors int `json:"errors"`
	// WarmupErrors is the calls that failed during the warm-up, which
	// are not in Calls: a failure is reported wherever it happens.
	WarmupErrors int `json:"warmup_errors"`
	// Allowed and Denied split the AuthZReq answers that were not errors.
	Allowed int `json:"allowed"`
	Denied  int `json:"denied"`
	// Elapsed is the measured wall time.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Throughput is decisions per second of wall time.
	Throughput float64 `json:"throughput"`
	// Latencies of every call, errors included (a slow failure is slow).
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
	// Dials is the connections opened during the measurement.
	Dials int64 `json:"dials"`
	// FirstError describes one failure, so errors are never silent.
	FirstError string `json:"first_error,omitempty"`
}

// Percentile is the nearest-rank q-th percentile (0 < q <= 1) of sorted
// latencies: the smallest value that q of them do not exceed.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Run measures one target with opts.
func Run(ctx context.Context, opts Options) (Result, error) {
	if len(opts.Schedule) == 0 {
		return Result{}, errors.New("empty schedule")
	}
	if opts.Concurrency < 1 {
		return Result{}, errors.New("concurrency must be at least 1")
	}
	if opts.Requests <= 0 && opts.Duration <= 0 {
		return Result{}, errors.New("set a duration or a number of requests")
	}
	wire, err := encode(opts.Schedule, opts.UniqueNames)
	if err != nil {
		return Result{}, err
	}
	var dials atomic.Int64
	client := Client(opts.Socket, &dials)
	defer client.CloseIdleConnections()

	warmErrors, warmErrs := 0, &errorSlot{}
	if opts.Warmup > 0 {
		wctx, cancel := context.WithTimeout(ctx, opts.Warmup)
		var mu sync.Mutex
		drive(wctx, client, wire, opts.Concurrency, 0, warmErrs, func(s []sample) {
			mu.Lock()
			defer mu.Unlock()
			for _, x := range s {
				if x.err {
					warmErrors++
				}
			}
		})
		cancel()
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	dials.Store(0)
	mctx, cancel := ctx, context.CancelFunc(func() {})
	if opts.Requests <= 0 {
		mctx, cancel = context.WithTimeout(ctx, opts.Duration)
	}
	defer cancel()
	var samples []sample
	var mu sync.Mutex
	errs := &errorSlot{}
	t0 := time.Now()
	drive(mctx, client, wire, opts.Concurrency, opts.Requests, errs, func(s []sample) {
		mu.Lock()
		samples = append(samples, s...)
		mu.Unlock()
	})
	elapsed := time.Since(t0)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	r := summarize(samples, elapsed)
	r.Dials = dials.Load()
	r.WarmupErrors = warmErrors
	if r.FirstError = errs.get(); r.FirstError == "" {
		r.FirstError = warmErrs.get()
	}
	return r, nil
}

// wireCall is a Call encoded once, as dockerd encodes it, so the load
// generator's own JSON work is not in the measurement.
type wireCall struct {
	req, res []byte
	// nameAt, when positive, is where in req a unique container name
	// suffix goes (the end of RequestUri's value); nameSep starts it.
	nameAt  int
	nameSep string
}

// body is the AuthZReq to send as the n-th call.
func (w wireCall) body(n int64) []byte {
	if w.nameAt <= 0 {
		return w.req
	}
	b := make([]byte, 0, len(w.req)+24)
	b = append(b, w.req[:w.nameAt]...)
	b = append(b, w.nameSep...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, w.req[w.nameAt:]...)
}

func encode(schedule []Call, unique bool) ([]wireCall, error) {
	out := make([]wireCall, len(schedule))
	for i, c := range schedule {
		req, err := json.Marshal(c.Request)
		if err != nil {
			return nil, err
		}
		out[i].req = req
		if unique && c.Request.RequestMethod == "POST" && strings.Contains(c.Request.RequestURI, "/containers/create") {
			uri, _ := json.Marshal(c.Request.RequestURI)
			at := bytes.Index(req, append([]byte(`"RequestUri":`), uri...))
			if at < 0 {
				return nil, fmt.Errorf("%s: RequestUri not found in the encoded call", c.Kind)
			}
			out[i].nameAt = at + len(`"RequestUri":`) + len(uri) - 1
			out[i].nameSep = "-"
			if !strings.Contains(c.Request.RequestURI, "name=") {
				out[i].nameSep = "?name=bench-"
				if strings.Contains(c.Request.RequestURI, "?") {
					out[i].nameSep = "&name=bench-"
				}
			}
		}
		if c.Allowed && c.Response != nil {
			if out[i].res, err = json.Marshal(c.Response); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// drive runs concurrency workers until ctx ends or, when limit is
// positive, limit API calls have been sent. Worker w starts at its own
// offset in the schedule, so the calls in flight are a spread of the mix.
func drive(ctx context.Context, client *http.Client, wire []wireCall, concurrency, limit int, errs *errorSlot, collect func([]sample)) {
	var next, seq atomic.Int64
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []sample
			i := w * len(wire) / concurrency
			for ctx.Err() == nil {
				if limit > 0 && next.Add(1) > int64(limit) {
					break
				}
				c := wire[i%len(wire)]
				i++
				s := send(ctx, client, reqPath, c.body(seq.Add(1)), errs)
				if ctx.Err() != nil && s.err {
					break // cut off by the end of the run, not a failure
				}
				mine = append(mine, s)
				if c.res == nil || s.err {
					continue // dockerd answers a failed AuthZReq itself
				}
				s = send(ctx, client, resPath, c.res, errs)
				if ctx.Err() != nil && s.err {
					break
				}
				s.res = true
				mine = append(mine, s)
			}
			if collect != nil {
				collect(mine)
			}
		}()
	}
	wg.Wait()
}

// errorSlot keeps the first failure's description for the report.
type errorSlot struct {
	mu  sync.Mutex
	msg string
}

func (e *errorSlot) set(msg string) {
	e.mu.Lock()
	if e.msg == "" {
		e.msg = msg
	}
	e.mu.Unlock()
}

func (e *errorSlot) get() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.msg
}

func send(ctx context.Context, client *http.Client, path string, body []byte, firstError *errorSlot) sample {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugin.moby.localhost"+path, bytes.NewReader(body))
	if err != nil {
		return sample{err: true}
	}
	req.Header.Set("Accept", mediaType)
	req.Header.Set("Content-Type", mediaType)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		s := sample{latency: time.Since(t0), err: true}
		if ctx.Err() == nil {
			firstError.set(path + ": " + err.Error())
		}
		return s
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := sample{latency: time.Since(t0)}
	var out authorization.Response
	switch {
	case err != nil:
		s.err = true
		if ctx.Err() == nil {
			firstError.set(path + ": reading the answer: " + err.Error())
		}
	case resp.StatusCode != http.StatusOK:
		s.err = true
		firstError.set(fmt.Sprintf("%s: HTTP %d: %.200s", path, resp.StatusCode, raw))
	case json.Unmarshal(raw, &out) != nil:
		s.err = true
		firstError.set(fmt.Sprintf("%s: not a plugin response: %.200q", path, raw))
	case out.Err != "":
		s.err = true
		firstError.set(fmt.Sprintf("%s: plugin error: %.200s", path, out.Err))
	default:
		s.allowed = out.Allow
	}
	return s
}

func summarize(samples []sample, elapsed time.Duration) Result {
	r := Result{Calls: len(samples), Elapsed: elapsed}
	lat := make([]time.Duration, len(samples))
	for i, s := range samples {
		lat[i] = s.latency
		switch {
		case s.err:
			r.Errors++
		case s.res:
		case s.allowed:
			r.Allowed++
		default:
			r.Denied++
		}
	}
	slices.Sort(lat)
	r.P50, r.P95, r.P99 = Percentile(lat, 0.50), Percentile(lat, 0.95), Percentile(lat, 0.99)
	if len(lat) > 0 {
		r.Max = lat[len(lat)-1]
	}
	if elapsed > 0 {
		r.Throughput = float64(r.Calls) / elapsed.Seconds()
	}
	return r
}

package decisionlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Every decision the policies made is one line, written before AuthZReq
// returns; fast-path allows are not logged.
func TestOneParsableLinePerDecision(t *testing.T) {
	var buf bytes.Buffer
	a := newAuthorizer(t)
	a.Observer = New(&buf, Options{Labels: map[string]string{"app": "hardened-authz"}, Revision: func(g uint64) string { return "rev-test" }})
	ctx := context.Background()
	calls := []struct {
		req    authorization.Request
		logged bool
	}{
		{deniedCreate(t), true},
		{authorization.Request{RequestMethod: "GET", RequestURI: "/_ping"}, false},
		{allowedCreate(t), true},
		{authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/abc/json"}, false},
		{authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/plugins/hardened-authz/disable"}, true},
		{authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/create", RequestBody: []byte("{")}, true},
	}
	var want []authorization.Response
	for _, c := range calls {
		before := buf.Len()
		res := a.AuthZReq(ctx, c.req)
		if logged := buf.Len() > before; logged != c.logged {
			t.Fatalf("%s %s: logged=%v before the answer, want %v", c.req.RequestMethod, c.req.RequestURI, logged, c.logged)
		}
		if c.logged {
			want = append(want, res)
		}
	}
	lines := parseLines(t, buf.Bytes())
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d decisions:\n%s", len(lines), len(want), buf.Bytes())
	}
	ids := map[string]bool{}
	for i, e := range lines {
		if !uuidV4.MatchString(e.DecisionID) || ids[e.DecisionID] {
			t.Errorf("line %d: decision_id %q is not a fresh UUID", i, e.DecisionID)
		}
		ids[e.DecisionID] = true
		if _, err := time.Parse(time.RFC3339Nano, e.Timestamp); err != nil {
			t.Errorf("line %d: timestamp: %v", i, err)
		}
		if e.Path != QueryPath || e.Labels["app"] != "hardened-authz" || e.PolicyRevision != "rev-test" || e.PolicyGen == 0 {
			t.Errorf("line %d: path %q labels %v revision %q generation %d", i, e.Path, e.Labels, e.PolicyRevision, e.PolicyGen)
		}
		if e.Result.Allow != want[i].Allow || e.Result.Message != want[i].Msg {
			t.Errorf("line %d: result %v %q, answered %v %q", i, e.Result.Allow, e.Result.Message, want[i].Allow, want[i].Msg)
		}
		if e.Request.Method == "" || e.Request.Action == "" || e.LatencyNS <= 0 || e.Mode != "enforce" {
			t.Errorf("line %d: request %+v latency %d mode %q", i, e.Request, e.LatencyNS, e.Mode)
		}
		if len(e.Input) == 0 {
			t.Errorf("line %d: no input", i)
		}
	}
	deny := lines[0]
	if len(deny.Rules) == 0 || deny.Rules[0] != "HA002" || len(deny.Result.Violations) == 0 || deny.Image != "dhi.io/node:25-debian13-sfw-ent-dev" {
		t.Errorf("denied create: rules %v, %d violations, image %q", deny.Rules, len(deny.Result.Violations), deny.Image)
	}
	var in struct {
		Action    string
		Container struct {
			Healthcheck struct{ Program string }
		}
	}
	if err := json.Unmarshal(deny.Input, &in); err != nil || in.Action != "container.create" || in.Container.Healthcheck.Program != "curl" {
		t.Errorf("input is not the evaluated document: %v %+v", err, in)
	}
	if lines[3].Rules[0] != authz.RuleBadCreateBody {
		t.Errorf("undecodable body: rules %v", lines[3].Rules)
	}
}

// Secrets a request carries never reach the log: environment values,
// credentials a healthcheck quotes, labels whose name says secret, and
// what --mask names.
func TestSecretsAreMasked(t *testing.T) {
	const (
		envSecret   = "envSecretValue1"
		curlSecret  = "curlSecretValue2"
		labelSecret = "labelSecretValue3"
		maskSecret  = "maskedByPattern4"
	)
	mask, err := ParseMask("/container/labels/owner*")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	a := newAuthorizer(t)
	a.Observer = New(&buf, Options{Masks: []Mask{mask}})
	body := composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD-SHELL", "curl -fsu admin:"+curlSecret+" http://localhost:3000/ || exit 1")
	body["Env"] = []string{"DB_PASSWORD=" + envSecret, "PLAIN=" + envSecret}
	body["Labels"].(map[string]string)["com.acme.api-token"] = labelSecret
	body["Labels"].(map[string]string)["Owner-Email"] = maskSecret
	a.AuthZReq(context.Background(), authztest.CreateCall(t, "app", body))
	line := buf.String()
	for _, s := range []string{envSecret, curlSecret, labelSecret, maskSecret} {
		if strings.Contains(line, s) {
			t.Errorf("the log line carries %q:\n%s", s, line)
		}
	}
	lines := parseLines(t, buf.Bytes())
	if len(lines) != 1 {
		t.Fatalf("%d lines", len(lines))
	}
	var in struct {
		Container struct{ Labels map[string]string }
	}
	if err := json.Unmarshal(lines[0].Input, &in); err != nil {
		t.Fatal(err)
	}
	if in.Container.Labels["com.acme.api-token"] != "<redacted>" || in.Container.Labels["Owner-Email"] != "<redacted>" ||
		in.Container.Labels["com.docker.compose.service"] != "app" {
		t.Errorf("labels: %v", in.Container.Labels)
	}
}

// A line stays under MaxLineBytes whatever the request: the input goes
// first, the decision stays.
func TestHugeInputIsCutAndTheDecisionKept(t *testing.T) {
	var buf bytes.Buffer
	a := newAuthorizer(t)
	a.Observer = New(&buf, Options{})
	body := composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD", "curl", "-f", "http://localhost:3000/health")
	labels := body["Labels"].(map[string]string)
	for i := range 3000 {
		labels["label."+strings.Repeat("x", 40)+string(rune('a'+i%26))+strings.Repeat("y", i%50)+"."+time.Duration(i).String()] = strings.Repeat("v", 100)
	}
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "app", body))
	if res.Allow {
		t.Fatal("allowed")
	}
	if buf.Len() > MaxLineBytes || buf.Bytes()[buf.Len()-1] != '\n' || bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("line of %d bytes, newlines %d", buf.Len(), bytes.Count(buf.Bytes(), []byte("\n")))
	}
	e := parseLines(t, buf.Bytes())[0]
	if e.Input != nil || e.InputTruncated == nil || e.InputTruncated.Bytes <= MaxLineBytes {
		t.Errorf("input %d bytes, truncated %+v", len(e.Input), e.InputTruncated)
	}
	if e.Result.Allow || e.Result.Message != res.Msg || len(e.Rules) == 0 || e.Rules[0] != "HA002" || len(e.Result.Violations) == 0 {
		t.Errorf("decision not intact: %+v", e.Result)
	}
}

// Even a decision whose own texts are huge fits: fixes go, then long
// messages are cut; the rule IDs stay.
func TestHugeDecisionFits(t *testing.T) {
	rec := authz.Record{Method: "POST", Path: "/containers/create", Action: "container.create"}
	for range 200 {
		rec.Violations = append(rec.Violations, violation("HA002", strings.Repeat("m", 3000)))
	}
	rec.Msg = strings.Repeat("d", 4000)
	l := New(nil, Options{})
	line := l.appendLine(nil, &rec, time.Now())
	if len(line) > MaxLineBytes {
		t.Fatalf("%d bytes", len(line))
	}
	var e entry
	if err := json.Unmarshal(line, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Rules) == 0 || e.Rules[0] != "HA002" || e.Result.Allow {
		t.Errorf("rules %v", e.Rules)
	}
}

// failingWriter fails every write, having written part of the first.
type failingWriter struct {
	mu     sync.Mutex
	writes int
	fail   bool
	buf    bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	if w.fail {
		n := min(len(p), 10)
		w.buf.Write(p[:n])
		return n, errors.New("no space left on device")
	}
	return w.buf.Write(p)
}

// A failing sink never fails a decision: the lines are counted dropped,
// and once the sink works again the next line starts on a line of its
// own.
func TestSinkFailureIsCountedAndDecisionsGoOn(t *testing.T) {
	w := &failingWriter{fail: true}
	l := New(w, Options{})
	a := newAuthorizer(t)
	a.Observer = l
	for range 3 {
		if res := a.AuthZReq(context.Background(), deniedCreate(t)); res.Allow || !strings.Contains(res.Msg, "HA002") {
			t.Fatalf("decision changed by a failing log: %+v", res)
		}
	}
	if written, dropped := l.Stats(); written != 0 || dropped != 3 {
		t.Fatalf("written %d dropped %d, want 0 and 3", written, dropped)
	}
	w.mu.Lock()
	w.fail = false
	w.buf.Reset()
	w.buf.WriteString("partial") // what the failed writes left
	w.mu.Unlock()
	a.AuthZReq(context.Background(), allowedCreate(t))
	if written, _ := l.Stats(); written != 1 {
		t.Fatalf("written %d after the sink recovered", written)
	}
	rest, ok := strings.CutPrefix(w.buf.String(), "partial\n")
	if !ok {
		t.Fatalf("the new line does not start on its own line: %.40q", w.buf.String())
	}
	if n := len(parseLines(t, []byte(rest))); n != 1 {
		t.Fatalf("%d lines after recovery", n)
	}
}

// A full disk (/dev/full answers every write with ENOSPC) drops lines and
// retries the file later; a closed pipe does too.
func TestFullDiskAndClosedPipe(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Fatalf("this test needs /dev/full: %v", err)
	}
	clock := time.Now()
	l, err := Open("/dev/full", Options{now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rec := deniedRecord()
	l.Observe(context.Background(), rec)
	l.Observe(context.Background(), rec) // not retried yet: dropped at once
	clock = clock.Add(2 * retryEvery)
	l.Observe(context.Background(), rec) // reopened, fails again
	if written, dropped := l.Stats(); written != 0 || dropped != 3 {
		t.Fatalf("written %d dropped %d", written, dropped)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	pl := New(w, Options{})
	pl.Observe(context.Background(), rec)
	if _, dropped := pl.Stats(); dropped != 1 {
		t.Fatalf("closed pipe: dropped %d", dropped)
	}
	w.Close()
}

// Rotation: after the file is moved, Reopen (SIGUSR1) sends the next
// lines to a new file at the path; a file removed without a signal is
// noticed within checkEvery.
func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.log")
	clock := time.Now()
	l, err := Open(path, Options{now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rec := deniedRecord()
	l.Observe(context.Background(), rec)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Observe(context.Background(), rec) // still the moved file: nothing lost
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Observe(context.Background(), rec)
	if n := countLines(t, path+".1"); n != 2 {
		t.Errorf("rotated file: %d lines, want 2", n)
	}
	if n := countLines(t, path); n != 1 {
		t.Errorf("new file: %d lines, want 1", n)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("new file: %v %v", st.Mode(), err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * checkEvery)
	l.Observe(context.Background(), rec)
	if n := countLines(t, path); n != 1 {
		t.Errorf("file removed without a signal: %d lines at the path, want 1", n)
	}
	if _, dropped := l.Stats(); dropped != 0 {
		t.Errorf("dropped %d", dropped)
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(parseLines(t, b))
}

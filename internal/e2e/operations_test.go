//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// restartPlugin restarts the suite's plugin with its usual arguments plus
// extra, and restores the usual plugin when the test ends. While it
// restarts, dockerd refuses API calls: the plugin fails closed.
func restartPlugin(t *testing.T, extra ...string) {
	t.Helper()
	original := append([]string(nil), suite.Plugin.Extra...)
	start := func(args []string) error {
		if _, err := suite.Plugin.Stop(15 * time.Second); err != nil {
			return fmt.Errorf("stop the plugin: %w", err)
		}
		suite.Plugin.Extra = args
		return suite.StartPlugin()
	}
	if err := start(append(append([]string{}, original...), extra...)); err != nil {
		t.Fatalf("start the plugin with %v: %v", extra, err)
	}
	t.Cleanup(func() {
		if err := start(original); err != nil {
			t.Errorf("restore the plugin: %v", err)
		}
	})
}

// logLine is one line of the decision log, decoded.
type logLine struct {
	Raw    string
	Fields map[string]any
}

// get follows keys through nested objects; nil when a key is missing.
func (l logLine) get(keys ...string) any {
	var v any = l.Fields
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// readDecisionLog decodes every line of the decision log at path; a line
// that is not one JSON object fails the test.
func readDecisionLog(t *testing.T, path string) []logLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("decision log: %v", err)
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("decision log line is not a JSON object (%v): %s", err, sc.Text())
		}
		if len(sc.Bytes()) >= 64<<10 {
			t.Errorf("decision log line of %d bytes: dockerd and log shippers choke past 64 KiB", len(sc.Bytes()))
		}
		out = append(out, logLine{Raw: sc.Text(), Fields: m})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("decision log: %v", err)
	}
	return out
}

// linesAbout returns the decision-log lines whose raw text contains every
// one of want.
func linesAbout(lines []logLine, want ...string) []logLine {
	var out []logLine
	for _, l := range lines {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(l.Raw, w)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// freeAddr is a loopback TCP address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// scrape fetches url from the plugin's metrics address: its status and
// body; a failed request fails the test.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body, err := httpGetStatus(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return code, body
}

// metricSum adds up the samples of metric whose labels contain every
// label="value" pair of labels, in a Prometheus text exposition.
func metricSum(exposition, metric string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(exposition, "\n") {
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// TestWarnModeLetsTheProblemComeUp: in warn mode the seed's problem comes
// up, and its HA002 is logged, counted and recorded as a deny that was let
// through.
func TestWarnModeLetsTheProblemComeUp(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "decisions.log")
	addr := freeAddr(t)
	restartPlugin(t, "--mode", "warn", "--decision-log", logPath, "--metrics-addr", addr)

	p := newProject(t, "warn", problemCompose)
	offset := suite.Plugin.LogSize()
	if res := p.Compose(t, 2*time.Minute, "up", "-d"); !res.OK() {
		t.Fatalf("docker-compose up in warn mode failed; warn mode must not deny:\n%s", res)
	}
	requireDecision(t, offset, true, "")

	hits := linesAbout(readDecisionLog(t, logPath), `"HA002`, p.Name)
	if len(hits) != 1 {
		t.Fatalf("want the app's create in the decision log once with HA002, got %d lines", len(hits))
	}
	if hits[0].get("mode") != "warn" || hits[0].get("result", "allow") != true {
		t.Errorf("the decision is not an allowed warn-mode decision: %s", hits[0].Raw)
	}
	_, metrics := scrape(t, "http://"+addr+"/metrics")
	if n := metricSum(metrics, "hardened_authz_rule_findings_total", `rule="HA002"`, `effect="demoted"`); n < 1 {
		t.Errorf("/metrics counts no demoted HA002 finding:\n%s", grepLines(metrics, "hardened_authz_rule_findings_total"))
	}
}

// grepLines returns the lines of s that contain sub, for failure messages.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// exceptionsProject has three services whose healthcheck runs curl in the
// shell-less app image (HA002): one excepted, one not, one excepted by an
// exception that has expired.
func exceptionsProject(t *testing.T) (compose, exceptions string) {
	t.Helper()
	svc := func(name string) string {
		return "  " + name + ":\n    image: " + ImageNode + "\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:3000/health\"]\n"
	}
	compose = writeCompose(t, "services:\n"+svc("excused")+svc("denied")+svc("late"))
	exceptions = filepath.Join(filepath.Dir(compose), "exceptions.yaml")
	if err := os.WriteFile(exceptions, []byte(`exceptions:
  - rules: [HA002]
    compose_service: excused
    reason: probe moves to a sidecar in the next release
    owner: platform-team
  - rules: [HA002]
    compose_service: late
    reason: granted for the old release
    expires: 2020-01-01
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return compose, exceptions
}

// TestExceptionLetsOneServiceThrough: an operator's exception lets one
// service through while another of the same project stays denied, and an
// expired exception does not match. authz check reads the same file.
func TestExceptionLetsOneServiceThrough(t *testing.T) {
	compose, exceptions := exceptionsProject(t)
	logPath := filepath.Join(t.TempDir(), "decisions.log")
	restartPlugin(t, "--exceptions", exceptions, "--decision-log", logPath)

	p := newProjectAt(t, "exc", compose)
	for _, tt := range []struct {
		service string
		allow   bool
	}{{"excused", true}, {"denied", false}, {"late", false}} {
		res := p.Compose(t, 2*time.Minute, "up", "-d", "--no-deps", tt.service)
		if res.OK() != tt.allow {
			t.Fatalf("up %s: ok=%v, want %v:\n%s", tt.service, res.OK(), tt.allow, res)
		}
		if !tt.allow {
			requireContains(t, "docker-compose output", res.Out, "HA002", "authorization denied by plugin "+suite.PluginName)
		}
	}
	lines := readDecisionLog(t, logPath)
	excused := linesAbout(lines, `"HA002`, p.Name, `"excused"`)
	if len(excused) != 1 || !strings.Contains(excused[0].Raw, "probe moves to a sidecar in the next release") {
		t.Errorf("the excused create is not recorded once as skipped with its reason: %v", excused)
	}
	late := linesAbout(lines, `"HA002`, p.Name, `"late"`, "expired")
	if len(late) == 0 {
		t.Errorf("the create matched only by an expired exception is not recorded as such")
	}

	// authz check with the same file: the excused finding is skipped with
	// its reason; the others stay errors.
	res := authzCLI(t, time.Minute, "check", "--format", "json", "--exceptions", exceptions, "--docker-host", suite.Daemon.Host(), compose)
	if res.ExitCode != 1 || !strings.Contains(res.Out, "probe moves to a sidecar in the next release") {
		t.Errorf("authz check --exceptions: exit %d, want 1 with the skipped reason in its JSON", res.ExitCode)
	}
}

// TestRuleOffSilencesOnlyThatRule: a rule set to off in policy data lets
// the seed's problem up, while another rule still denies.
func TestRuleOffSilencesOnlyThatRule(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policy", "enforcement")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), []byte(`{"rules": {"HA002": "off"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	restartPlugin(t, "--policy", filepath.Dir(dir))

	p := newProject(t, "off", problemCompose)
	if res := p.Compose(t, 2*time.Minute, "up", "-d"); !res.OK() {
		t.Fatalf("with HA002 off the problem must come up:\n%s", res)
	}
	name := "e2e-off-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	res := docker(t, time.Minute, "create", "--name", name, "--health-cmd", "true", ImageNode)
	if res.OK() {
		t.Fatalf("a CMD-SHELL healthcheck in a shell-less image was allowed: HA001 is not off")
	}
	requireContains(t, "docker create output", res.Out, "HA001")
}

// reloadRule is a rule that denies containers labelled e2e.reload, whose
// message says which version of the file decided.
func reloadRule(version string) string {
	return `package hardened.rules.e2e_reload

import data.hardened.lib.violation

# METADATA
# title: Reload probe
# custom:
#   id: E2E100
#   severity: error
deny contains violation.new(rego.metadata.rule(), "refused by policy ` + version + `", {"summary": "remove the e2e.reload label"}) if {
	input.action == "container.create"
	input.container.labels["e2e.reload"]
}
`
}

// reloadCreateCall is a plugin-protocol AuthZReq of a container create labelled
// e2e.reload, as dockerd sends it.
func reloadCreateCall() []byte {
	body, _ := json.Marshal(map[string]any{"Image": ImageBusyboxDev, "Labels": map[string]string{"e2e.reload": "1"}})
	call, _ := json.Marshal(map[string]any{
		"User": "", "RequestMethod": "POST", "RequestUri": "/v1.41/containers/create?name=e2e-reload",
		"RequestHeaders": map[string]string{"Content-Type": "application/json"}, "RequestBody": body,
	})
	return call
}

// TestPolicyEditSwapsUnderLoad: a policy file edited while a thousand
// decisions are in flight is taken with no failed request; a
// broken edit is rejected and the old policy goes on deciding; the next
// good edit is taken. /metrics counts the reloads.
func TestPolicyEditSwapsUnderLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policy", "e2e_reload")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "e2e_reload.rego")
	write := func(content string) {
		t.Helper()
		// As an editor or a deploy tool does: a new file renamed over.
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadRule("v1"))
	addr := freeAddr(t)
	restartPlugin(t, "--policy", filepath.Dir(dir), "--metrics-addr", addr)

	call := reloadCreateCall()
	decide := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := suite.Plugin.Post(ctx, "/AuthZPlugin.AuthZReq", bytes.NewReader(call))
		if err != nil {
			return "", err
		}
		var r struct {
			Allow bool
			Msg   string
			Err   string
		}
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &r) != nil || r.Err != "" {
			return "", fmt.Errorf("status %d: %s", res.Status, res.Body)
		}
		if r.Allow || !strings.Contains(r.Msg, "E2E100: refused by policy v") {
			return "", fmt.Errorf("not decided by the probe rule: allow=%v %q", r.Allow, r.Msg)
		}
		return r.Msg, nil
	}
	if msg, err := decide(); err != nil || !strings.Contains(msg, "policy v1") {
		t.Fatalf("before the edit: %q %v", msg, err)
	}

	// A thousand clients keep decisions in flight until the edit is
	// taken: the swap happens under load, and no decision may fail.
	const clients = 1000
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		answered atomic.Int64
		failed   atomic.Int64
		v1, v2   atomic.Int64
		firstMu  sync.Mutex
		first    error
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				msg, err := decide()
				answered.Add(1)
				switch {
				case err != nil:
					failed.Add(1)
					firstMu.Lock()
					if first == nil {
						first = err
					}
					firstMu.Unlock()
				case strings.Contains(msg, "policy v2"):
					v2.Add(1)
				default:
					v1.Add(1)
				}
			}
		}()
	}
	if !waitFor(time.Minute, 10*time.Millisecond, func() bool { return answered.Load() >= clients }) {
		stop.Store(true)
		wg.Wait()
		t.Fatalf("only %d decisions in a minute under load; first failure: %v", answered.Load(), first)
	}
	write(reloadRule("v2"))
	taken := waitFor(30*time.Second, 10*time.Millisecond, func() bool { return v2.Load() > 0 })
	stop.Store(true)
	wg.Wait()
	t.Logf("%d decisions by %d clients: %d by v1, %d by v2, %d failed", answered.Load(), clients, v1.Load(), v2.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d decisions failed during the reload; first: %v", failed.Load(), first)
	}
	if !taken {
		t.Fatal("the edited policy was not taken within 30 s under load")
	}

	// Through dockerd too.
	res := docker(t, time.Minute, "create", "--label", "e2e.reload=1", ImageBusyboxDev)
	requireContains(t, "docker create output", res.Out, "E2E100: refused by policy v2")

	// A broken edit: rejected with its file and line, v2 goes on.
	offset := suite.Plugin.LogSize()
	write(reloadRule("v3") + "\ndeny contains x if {\n")
	line := regexp.MustCompile(regexp.QuoteMeta(filepath.Base(file)) + `:\d+`)
	if !waitFor(10*time.Second, 100*time.Millisecond, func() bool {
		b, err := os.ReadFile(suite.Plugin.LogPath)
		return err == nil && int64(len(b)) > offset && line.Match(b[offset:])
	}) {
		t.Fatal("the plugin log does not name the broken file and line within 10 s")
	}
	for range 3 {
		if msg, err := decide(); err != nil || !strings.Contains(msg, "policy v2") {
			t.Fatalf("after a broken edit the old policy must decide: %q %v", msg, err)
		}
	}
	_, metrics := scrape(t, "http://"+addr+"/metrics")
	if metricSum(metrics, "hardened_authz_policy_reload_failures_total") < 1 {
		t.Errorf("/metrics counts no failed reload:\n%s", grepLines(metrics, "reload"))
	}

	write(reloadRule("v4"))
	if !waitFor(10*time.Second, 100*time.Millisecond, func() bool { msg, _ := decide(); return strings.Contains(msg, "policy v4") }) {
		t.Fatal("the good edit after a broken one was not taken within 10 s")
	}
	if code, _ := scrape(t, "http://"+addr+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d, want 200", code)
	}
	if code, _ := scrape(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d, want 200", code)
	}
}

// TestDecisionLogHasEveryDecisionOnceMasked: every decision is in the
// decision log exactly once, and no environment value sent with a create
// appears in it.
func TestDecisionLogHasEveryDecisionOnceMasked(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "decisions.log")
	addr := freeAddr(t)
	restartPlugin(t, "--decision-log", logPath, "--metrics-addr", addr)
	_, before := scrape(t, "http://"+addr+"/metrics")

	secret := "e2e-secret-" + randomHex(8)
	var names []string
	for i := range 5 {
		name := fmt.Sprintf("e2e-dlog-%d-%s", i, randomHex(3))
		names = append(names, name)
		t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
		args := []string{"create", "--name", name, "-e", "E2E_TOKEN=" + secret}
		if i%2 == 1 {
			// denied: CMD-SHELL in a shell-less image
			args = append(args, "--health-cmd", "true", ImageNode)
		} else {
			args = append(args, ImageBusyboxDev, "true")
		}
		docker(t, time.Minute, args...)
	}
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Fatalf("the decision log contains an environment value that was sent")
	}
	lines := readDecisionLog(t, logPath)
	ids := map[string]bool{}
	for _, l := range lines {
		id, _ := l.get("decision_id").(string)
		if id == "" || ids[id] {
			t.Errorf("decision_id missing or repeated: %s", l.Raw)
		}
		ids[id] = true
	}
	for i, name := range names {
		got := linesAbout(lines, `"`+name+`"`, "container.create")
		if len(got) != 1 {
			t.Errorf("create of %s: %d decision-log lines, want exactly 1", name, len(got))
			continue
		}
		if allow := got[0].get("result", "allow"); allow != (i%2 == 0) {
			t.Errorf("create of %s: result.allow=%v in %s", name, allow, got[0].Raw)
		}
	}
	_, after := scrape(t, "http://"+addr+"/metrics")
	if d := metricSum(after, "hardened_authz_decisions_total", `action="container.create"`) -
		metricSum(before, "hardened_authz_decisions_total", `action="container.create"`); d < 5 {
		t.Errorf("/metrics counted %v container.create decisions, want at least 5", d)
	}
}

package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

// curlIn is the seed's denied service (HA002), as compose creates it for
// project/service.
func curlIn(project, service string) map[string]any {
	c := composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD", "curl", "-f", "http://localhost:3000/health")
	c["Labels"] = map[string]string{"com.docker.compose.project": project, "com.docker.compose.service": service}
	return c
}

// decideCall runs the whole request path and returns its record.
func decideCall(t *testing.T, a *Authorizer, req authorization.Request) Record {
	t.Helper()
	rt := route.Parse(req.RequestMethod, req.RequestURI)
	rec := a.decide(context.Background(), rt, req)
	demoteBuiltin(&rec, a.Enforcement())
	return rec
}

func exceptionsFile(t *testing.T, text string) *enforce.Exceptions {
	t.Helper()
	x, _, err := enforce.ParseExceptions("exceptions.yaml", []byte(text), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestWarnModeLetsADenyThroughAndMarksIt(t *testing.T) {
	var logs bytes.Buffer
	a := newAuthorizer(t, nil)
	a.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a.SetEnforcement(&enforce.Policy{Mode: enforce.Warn})
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "seed-app-1", curlIn("seed", "app")))
	if !res.Allow {
		t.Fatalf("warn mode denied: %s", res.Msg)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("no warn-level log line: %q", logs.String())
	}
	if line["level"] != "WARN" || line["mode"] != "warn" || line["would_deny"] != true || line["allow"] != true {
		t.Errorf("log line: %v", line)
	}
	if d, _ := line["demoted"].([]any); len(d) != 1 || d[0] != "HA002" {
		t.Errorf("demoted: %v", line["demoted"])
	}

	rec := decideCall(t, a, authztest.CreateCall(t, "seed-app-1", curlIn("seed", "app")))
	if !rec.Allow || !rec.WouldDeny || len(rec.Violations) != 0 || len(rec.Demoted) != 1 || rec.Demoted[0].Rule != "HA002" || !strings.HasPrefix(rec.Msg, "HA002") {
		t.Errorf("record: allow=%v would_deny=%v violations=%v demoted=%v msg=%q", rec.Allow, rec.WouldDeny, rec.Violations, rec.Demoted, rec.Msg)
	}

	// Enforce again: the same request is denied, with the same message.
	a.SetEnforcement(nil)
	if res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "seed-app-1", curlIn("seed", "app"))); res.Allow || !strings.HasPrefix(res.Msg, "HA002: ") {
		t.Errorf("enforce: allow=%v %q", res.Allow, res.Msg)
	}
}

func TestDryRunLogsAtDebugOnly(t *testing.T) {
	var logs bytes.Buffer
	a := newAuthorizer(t, nil)
	a.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a.SetEnforcement(&enforce.Policy{Mode: enforce.DryRun})
	if res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "seed-app-1", curlIn("seed", "app"))); !res.Allow {
		t.Fatalf("dryrun denied: %s", res.Msg)
	}
	if logs.Len() != 0 {
		t.Errorf("a dry run's would-deny logged above debug: %s", logs.String())
	}
}

func TestBuiltinDenialsFollowTheGlobalMode(t *testing.T) {
	a := newAuthorizer(t, nil)
	bad := authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/create", RequestBody: []byte("{")}
	if res := a.AuthZReq(context.Background(), bad); res.Allow {
		t.Fatal("enforce: a bad body was allowed")
	}
	a.SetEnforcement(&enforce.Policy{Mode: enforce.Warn})
	rec := decideCall(t, a, bad)
	if !rec.Allow || !rec.WouldDeny || rec.Builtin != "" || len(rec.Demoted) != 1 || rec.Demoted[0].Rule != RuleBadCreateBody {
		t.Errorf("warn: %+v", rec)
	}
	if res := a.AuthZReq(context.Background(), bad); !res.Allow {
		t.Error("warn: a bad body was denied")
	}
}

func TestSelfProtectionAlwaysEnforces(t *testing.T) {
	a := newAuthorizer(t, nil)
	a.SetEnforcement(&enforce.Policy{Mode: enforce.DryRun})
	res := a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/plugins/hardened-authz/disable"})
	if res.Allow || !strings.HasPrefix(res.Msg, "HA090") {
		t.Errorf("dryrun let the plugin be disabled: allow=%v %q", res.Allow, res.Msg)
	}
}

func TestExceptionForOneComposeService(t *testing.T) {
	a := newAuthorizer(t, nil)
	a.SetEnforcement(&enforce.Policy{Exceptions: exceptionsFile(t, `exceptions:
  - rules: [HA002]
    image: dhi.io/node
    compose_project: shop
    compose_service: api
    reason: probe moves to a sidecar in SHOP-142
    owner: team-shop
`)})
	rec := decideCall(t, a, authztest.CreateCall(t, "shop-api-1", curlIn("shop", "api")))
	if !rec.Allow || len(rec.Skipped) != 1 || rec.Skipped[0].Reason != "probe moves to a sidecar in SHOP-142" || rec.Skipped[0].Owner != "team-shop" || rec.WouldDeny {
		t.Errorf("api: allow=%v skipped=%+v %q", rec.Allow, rec.Skipped, rec.Msg)
	}
	attrs := slog.GroupValue(rec.Attrs()...).String()
	if !strings.Contains(attrs, "HA002 (exception 1: probe moves to a sidecar in SHOP-142)") {
		t.Errorf("log attrs: %s", attrs)
	}
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "shop-worker-1", curlIn("shop", "worker")))
	if res.Allow || !strings.HasPrefix(res.Msg, "HA002: ") {
		t.Errorf("worker, same project, no exception: allow=%v %q", res.Allow, res.Msg)
	}
}

func TestExpiredExceptionDoesNotMatch(t *testing.T) {
	var logs bytes.Buffer
	a := newAuthorizer(t, nil)
	a.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	a.SetEnforcement(&enforce.Policy{Exceptions: exceptionsFile(t, "exceptions:\n  - {rules: [HA002], compose_service: api, reason: ran out, expires: 2020-01-01}\n")})
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "shop-api-1", curlIn("shop", "api")))
	if res.Allow {
		t.Fatal("an expired exception let the deny through")
	}
	for _, want := range []string{`"level":"WARN"`, `"expired_exceptions":["HA002: exception 1 (line 2) expired 2020-01-01: ran out"]`, `"rules":["HA002"]`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s: %s", want, logs.String())
		}
	}
}

func TestRuleOffSilencesOnlyThatRule(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "enforcement"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "enforcement", "data.json"), []byte(`{"rules": {"HA008": "off"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	plain, off := newAuthorizer(t, nil), newAuthorizer(t, nil, dir)
	if rec := decideCall(t, plain, authztest.CreateCall(t, "seed-app-health-1", curlSidecar())); len(rec.Warnings) != 1 || rec.Warnings[0].Rule != "HA008" {
		t.Fatalf("the sidecar should warn HA008 without the setting: %v", rec.Warnings)
	}
	rec := decideCall(t, off, authztest.CreateCall(t, "seed-app-health-1", curlSidecar()))
	if len(rec.Warnings) != 0 || rec.Off != 1 || !rec.Allow {
		t.Errorf("HA008 off: warnings=%v off=%d", rec.Warnings, rec.Off)
	}
	if res := off.AuthZReq(context.Background(), authztest.CreateCall(t, "seed-app-1", curlIn("seed", "app"))); res.Allow || !strings.HasPrefix(res.Msg, "HA002") {
		t.Errorf("HA002 must still deny: %v %q", res.Allow, res.Msg)
	}
}

func BenchmarkAuthZReqExceptions(b *testing.B) {
	a := newAuthorizer(b, nil)
	file := "exceptions:\n"
	for i := range 50 {
		file += "  - {rules: [HA002, HA008], compose_project: other" + string(rune('a'+i%26)) + ", container: \"*-x" + string(rune('a'+i%26)) + "-*\", reason: r}\n"
	}
	x, _, err := enforce.ParseExceptions("x", []byte(file), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	a.SetEnforcement(&enforce.Policy{Exceptions: x})
	ctx := context.Background()
	req := authztest.CreateCall(b, "app", composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD", "curl", "-f", "http://localhost:3000/health"))
	if a.AuthZReq(ctx, req).Allow {
		b.Fatal("no exception matches: the create must be denied")
	}
	b.ReportAllocs()
	for b.Loop() {
		a.AuthZReq(ctx, req)
	}
}

// A deny an exception skips does not let through a create whose image's
// files nobody saw: the files could hold another finding.
func TestSkippedDenyStillNeedsTheImagesFiles(t *testing.T) {
	node := imagefacts.Named("dhi.io/node:24")
	node.Source, node.Found, node.ID = imagefacts.SourceDaemon, true, "sha256:"+strings.Repeat("3", 64)
	a := newAuthorizer(t, namesOnly{"dhi.io/node:24": node})
	a.Images.Index = staticIndex{err: errors.New("scan failed")}
	body := map[string]any{"Image": "dhi.io/node:24", "Healthcheck": map[string]any{"Test": []string{"CMD-SHELL", "true"}}}
	if res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "api", body)); res.Allow || !strings.HasPrefix(res.Msg, "HA001") {
		t.Fatalf("without an exception: allow=%v %q", res.Allow, res.Msg)
	}
	a.SetEnforcement(&enforce.Policy{Exceptions: exceptionsFile(t, "exceptions:\n  - {rules: [HA001], image: dhi.io/node, reason: r}\n")})
	rec := decideCall(t, a, authztest.CreateCall(t, "api", body))
	if rec.Allow || rec.Builtin != RuleFactsMissing || len(rec.Skipped) != 1 {
		t.Errorf("skipped HA001, no files: allow=%v builtin=%q skipped=%v", rec.Allow, rec.Builtin, rec.Skipped)
	}
}

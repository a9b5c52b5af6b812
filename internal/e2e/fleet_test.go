//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/fleet/fleettest"
)

// fleetRule denies a create labelled e2e.fleet, saying which bundle
// revision decided.
func fleetRule(version string) string {
	return `package hardened.rules.e2e_fleet

import data.hardened.lib.violation

# METADATA
# title: Fleet probe
# custom:
#   id: E2E200
#   severity: error
deny contains violation.new(rego.metadata.rule(), "refused by bundle ` + version + `", {"summary": "remove the e2e.fleet label"}) if {
	input.action == "container.create"
	input.container.labels["e2e.fleet"]
}
`
}

// buildBundle runs `authz bundle build --sign` on the team's rule at
// version and returns the bundle.
func buildBundle(t *testing.T, dir, key, version string, extra ...string) []byte {
	t.Helper()
	pol := filepath.Join(dir, "policy-"+version, "e2e_fleet")
	if err := os.MkdirAll(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pol, "e2e_fleet.rego"), []byte(fleetRule(version)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bundle-"+version+".tar.gz")
	cmd := exec.Command(suite.Plugin.Bin, append([]string{"bundle", "build", "-o", out, "--policy", filepath.Dir(pol), "--sign", key, "--signing-alg", "RS256", "--revision", version}, extra...)...)
	if res, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("authz bundle build: %v\n%s", err, res)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tamperBundle edits the team's rule inside a signed bundle and keeps the
// signature: what an attacker between the build and the hosts would do.
func tamperBundle(t *testing.T, raw []byte) []byte {
	t.Helper()
	out, err := fleettest.Tamper(raw, "e2e_fleet.rego", func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte(`input.container.labels["e2e.fleet"]`), []byte(`false`))
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFleetBundlesAndDecisionUpload: the plugin started with --opa-config
// pulls a bundle signed by `authz bundle build --sign` from a local bundle
// server; a new revision with a changed rule takes effect without a
// restart; a tampered bundle is rejected (logged and counted) while the
// previous revision serves on; and the collector receives gzipped
// decision-log batches whose input is masked, with the bundle revision.
func TestFleetBundlesAndDecisionUpload(t *testing.T) {
	dir := t.TempDir()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "signing.pem")
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})))

	srv := &fleettest.ControlPlane{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	srv.SetBundle(buildBundle(t, dir, key, "v1"))

	config := fmt.Sprintf(`services:
  control-plane:
    url: %s
keys:
  fleet:
    algorithm: RS256
    key: |
      %s
bundles:
  hardened:
    service: control-plane
    resource: bundles/hardened.tar.gz
    polling:
      min_delay_seconds: 1
      max_delay_seconds: 2
    signing:
      keyid: fleet
decision_logs:
  service: control-plane
  reporting:
    min_delay_seconds: 1
    max_delay_seconds: 2
`, hs.URL, strings.ReplaceAll(pubPEM, "\n", "\n      "))
	cfgPath := filepath.Join(dir, "opa.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "decisions.log")
	addr := freeAddr(t)
	restartPlugin(t, "--opa-config", cfgPath, "--decision-log", logPath, "--metrics-addr", addr)

	secret := "e2e-secret-" + randomHex(8)
	body, _ := json.Marshal(map[string]any{"Image": ImageBusyboxDev, "Labels": map[string]string{"e2e.fleet": "1", "com.acme.db-password": secret}})
	call, _ := json.Marshal(map[string]any{
		"User": "", "RequestMethod": "POST", "RequestUri": "/v1.41/containers/create?name=e2e-fleet",
		"RequestHeaders": map[string]string{"Content-Type": "application/json"}, "RequestBody": body,
	})
	decide := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := suite.Plugin.Post(ctx, "/AuthZPlugin.AuthZReq", bytes.NewReader(call))
		if err != nil || res.Status != http.StatusOK {
			return fmt.Sprintf("error: %v", err)
		}
		var r struct {
			Allow bool
			Msg   string
		}
		_ = json.Unmarshal(res.Body, &r)
		if r.Allow {
			return "allowed"
		}
		return r.Msg
	}
	by := func(version string) func() bool {
		return func() bool { return strings.Contains(decide(), "E2E200: refused by bundle "+version) }
	}
	if !waitFor(60*time.Second, 200*time.Millisecond, by("v1")) {
		t.Fatalf("bundle v1 does not decide within 60 s: %q\n%s", decide(), tailFile(suite.Plugin.LogPath, 20))
	}
	// Through dockerd as well.
	res := docker(t, time.Minute, "create", "--label", "e2e.fleet=1", "--label", "com.acme.db-password="+secret, ImageBusyboxDev)
	requireContains(t, "docker create output", res.Out, "E2E200: refused by bundle v1")

	// A new revision, no restart.
	pid := suite.Plugin.PID()
	srv.SetBundle(buildBundle(t, dir, key, "v2"))
	if !waitFor(60*time.Second, 200*time.Millisecond, by("v2")) {
		t.Fatalf("bundle v2 is not taken within 60 s: %q", decide())
	}
	if suite.Plugin.PID() != pid {
		t.Fatal("the plugin restarted")
	}

	// A tampered bundle: rejected, logged, counted; v2 serves on.
	offset := suite.Plugin.LogSize()
	srv.SetBundle(tamperBundle(t, buildBundle(t, dir, key, "v3")))
	rejected := func() bool {
		b, err := os.ReadFile(suite.Plugin.LogPath)
		return err == nil && int64(len(b)) > offset && bytes.Contains(b[offset:], []byte("bundle rejected, the running policy stays"))
	}
	if !waitFor(60*time.Second, 200*time.Millisecond, rejected) {
		t.Fatalf("the tampered bundle is not rejected in the log within 60 s:\n%s", tailFile(suite.Plugin.LogPath, 20))
	}
	for range 3 {
		if msg := decide(); !strings.Contains(msg, "refused by bundle v2") {
			t.Fatalf("after a tampered bundle v2 must decide: %q", msg)
		}
	}
	_, metrics := scrape(t, "http://"+addr+"/metrics")
	if metricSum(metrics, "hardened_authz_policy_reload_failures_total") < 1 {
		t.Errorf("/metrics counts no failed reload:\n%s", grepLines(metrics, "reload"))
	}

	// The local decision log names the bundle revision too.
	lines := linesAbout(readDecisionLog(t, logPath), "e2e-fleet", "refused by bundle v2")
	if len(lines) == 0 {
		t.Fatal("no decision-log line of a v2 decision")
	}
	if rev := lines[len(lines)-1].get("bundles", "hardened", "revision"); rev != "v2" {
		t.Errorf("decision log bundles.hardened.revision = %v, want v2: %s", rev, lines[len(lines)-1].Raw)
	}

	// The collector: gzipped batches, the v2 decisions with their
	// bundle revision, the secret label masked as in the local log.
	uploaded := func() (ok bool) {
		for _, e := range srv.Received().Events {
			ev := logLine{Fields: e}
			labels, _ := ev.get("input", "container", "labels").(map[string]any)
			if ev.get("bundles", "hardened", "revision") == "v2" && labels["e2e.fleet"] == "1" {
				if labels["com.acme.db-password"] != "<redacted>" {
					t.Errorf("an uploaded input is not masked: %v", labels)
				}
				return true
			}
		}
		return false
	}
	if !waitFor(30*time.Second, 200*time.Millisecond, uploaded) {
		t.Fatalf("the collector got no v2 decision within 30 s (%d events)", len(srv.Received().Events))
	}
	got := srv.Received()
	if !got.Gzipped {
		t.Error("the decision-log batches were not gzipped")
	}
	for _, b := range got.Bodies {
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("the secret label value reached the collector")
		}
	}
	t.Logf("collector: %d events in %d batches", len(got.Events), len(got.Bodies))

	// Exceptions travel with the bundle: v4 excuses its rule for this
	// container, and the create passes, skipped with the fleet's reason.
	exceptions := filepath.Join(dir, "exceptions.yaml")
	if err := os.WriteFile(exceptions, []byte("exceptions:\n  - rules: [E2E200]\n    container: e2e-fleet\n    reason: accepted by the fleet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.SetBundle(buildBundle(t, dir, key, "v4", "--exceptions", exceptions))
	if !waitFor(60*time.Second, 200*time.Millisecond, func() bool { return decide() == "allowed" }) {
		t.Fatalf("the bundle's exception does not apply within 60 s: %q", decide())
	}
	skipped := linesAbout(readDecisionLog(t, logPath), "e2e-fleet", "accepted by the fleet")
	if len(skipped) == 0 {
		t.Error("no decision-log line shows the finding skipped with the bundle's reason")
	}
}

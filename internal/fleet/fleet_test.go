package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/decisionlog"
	"github.com/hardened-authz/hardened-authz/internal/fleet/fleettest"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

// testKeys is an RSA key pair in PEM, made once per test binary.
var testKeys = sync.OnceValues(func() (private, public string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
})

// labelRule denies a create labelled e2e.deny; version shows in the
// message, so a test can tell which revision decided.
func labelRule(version string) []byte {
	return []byte(`package hardened.rules.fleet_test

import data.hardened.lib.violation

# METADATA
# title: Fleet probe
# custom:
#   id: FLEET001
#   severity: error
deny contains violation.new(rego.metadata.rule(), "denied by ` + version + `", {"summary": "remove the label"}) if {
	input.action == "container.create"
	input.container.labels["fleet.deny"]
}
`)
}

// shippedFiles are the embedded set's files with extra laid over them,
// as `authz bundle build --policy` collects them.
func shippedFiles(t *testing.T, extra map[string][]byte) []policy.BundleFile {
	t.Helper()
	src := policy.Sources{Library: rego.FS, Rules: policies.FS}
	if len(extra) > 0 {
		src.Layers = []policy.Layer{{Origin: "test:", Files: extra}}
	}
	files, err := src.BundleFiles()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func build(t *testing.T, files []policy.BundleFile, rev string, sc *bundle.SigningConfig) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Build(&buf, files, BuildOptions{Revision: rev, Signing: sc}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func verification(public string) *bundle.VerificationConfig {
	return bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{"k": {Key: public, Algorithm: "RS256"}}, "k", "", nil)
}

// tamper rewrites the bundle's file name, keeping its signature.
func tamper(t *testing.T, raw []byte, name string, edit func([]byte) []byte) []byte {
	t.Helper()
	out, err := fleettest.Tamper(raw, name, edit)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuildReadsBackVerifiedWithModulesAndData(t *testing.T) {
	private, public := testKeys()
	raw := build(t, shippedFiles(t, map[string][]byte{"acme/rule.rego": labelRule("v1"), "enforcement/data.json": []byte(`{"rules": {"HA008": "warn"}}`)}), "r1", bundle.NewSigningConfig(private, "RS256", ""))

	b, err := ReadBundle(bytes.NewReader(raw), "fleet", verification(public))
	if err != nil {
		t.Fatalf("a bundle signed by Build does not verify: %v", err)
	}
	if b.Manifest.Revision != "r1" {
		t.Errorf("revision %q, want r1", b.Manifest.Revision)
	}
	if b.Manifest.Roots == nil || strings.Join(*b.Manifest.Roots, ",") != "catalog,enforcement,hardened" {
		t.Errorf("roots %v, want catalog,enforcement,hardened", b.Manifest.Roots)
	}
	layer, err := LayerOf("fleet", b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acme/rule.rego", "rego/lib/violation.rego", "healthcheck/healthcheck.rego", "healthcheck/healthcheck_test.rego", "catalog/data.json", "catalog/overrides/data.json", "enforcement/data.json"} {
		if _, ok := layer.Files[want]; !ok {
			t.Errorf("the bundle read back has no %s", want)
		}
	}
	if !bytes.Contains(layer.Files["enforcement/data.json"], []byte("HA008")) {
		t.Errorf("enforcement/data.json lost its content: %s", layer.Files["enforcement/data.json"])
	}

	// Laid over the embedded set, the bundle (library included) is one
	// set again: no rule defined twice, its tests pass, its rule decides,
	// its modes apply.
	v, err := policy.Validate(context.Background(), policy.Sources{Library: rego.FS, Rules: policies.FS, TrustShipped: true, Layers: []policy.Layer{layer}})
	if err != nil {
		t.Fatalf("the bundle laid over the embedded set does not validate: %v", err)
	}
	e := policy.NewValidated(v)
	if e.RuleModes().Mode("HA008") != policy.RuleWarn {
		t.Errorf("rule modes %v: the bundle's enforcement/data.json is not served", e.RuleModes())
	}
	rec := decide(t, e, nil, map[string]string{"fleet.deny": "1"})
	if rec.Allow || !strings.Contains(rec.Msg, "denied by v1") {
		t.Errorf("the bundle's rule did not decide: allow=%v %q", rec.Allow, rec.Msg)
	}
}

func TestReadRefusesTamperedOrForeignBundles(t *testing.T) {
	private, public := testKeys()
	raw := build(t, shippedFiles(t, map[string][]byte{"acme/rule.rego": labelRule("v1")}), "r1", bundle.NewSigningConfig(private, "RS256", ""))
	cases := map[string][]byte{
		"a rule edited after signing": tamper(t, raw, "/acme/rule.rego", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("fleet.deny"), []byte("fleet.other"))
		}),
		"data edited after signing": tamper(t, raw, "/catalog/overrides/data.json", func(b []byte) []byte {
			return bytes.Replace(b, []byte("{"), []byte(`{"injected": true, `), 1)
		}),
		"the signature removed": tamper(t, raw, "/.signatures.json", func([]byte) []byte { return []byte(`{}`) }),
	}
	for name, bad := range cases {
		if _, err := ReadBundle(bytes.NewReader(bad), "fleet", verification(public)); err == nil {
			t.Errorf("%s: the bundle verified", name)
		}
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherPub, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	if _, err := ReadBundle(bytes.NewReader(raw), "fleet", verification(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: otherPub})))); err == nil {
		t.Errorf("a bundle verified with another key")
	}
	unsigned := build(t, shippedFiles(t, nil), "r0", nil)
	if _, err := ReadBundle(bytes.NewReader(unsigned), "fleet", verification(public)); err == nil {
		t.Errorf("an unsigned bundle verified")
	}
}

func TestBuildSignsWithHMAC(t *testing.T) {
	raw := build(t, shippedFiles(t, nil), "h1", bundle.NewSigningConfig("s3cret", "HS256", ""))
	vc := bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{"k": {Key: "s3cret", Algorithm: "HS256"}}, "k", "", nil)
	if _, err := ReadBundle(bytes.NewReader(raw), "fleet", vc); err != nil {
		t.Fatalf("HS256: %v", err)
	}
	vc = bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{"k": {Key: "wrong", Algorithm: "HS256"}}, "k", "", nil)
	if _, err := ReadBundle(bytes.NewReader(raw), "fleet", vc); err == nil {
		t.Fatal("HS256 verified with the wrong secret")
	}
}

func TestLayerOfRefusesWhatItCannotServe(t *testing.T) {
	if _, err := LayerOf("x", &bundle.Bundle{Patch: bundle.Patch{Data: []bundle.PatchOperation{{Op: "add", Path: "/a", Value: 1}}}}); err == nil || !strings.Contains(err.Error(), "delta") {
		t.Errorf("a delta bundle: %v", err)
	}
	if _, err := LayerOf("x", &bundle.Bundle{Raw: []bundle.Raw{{Path: "/acme/data.yaml", Value: []byte("a: 1")}}}); err == nil || !strings.Contains(err.Error(), "data.json") {
		t.Errorf("a YAML data file: %v", err)
	}
}

// decide runs one create labelled labels through an authorizer on e.
func decide(t *testing.T, e *policy.Engine, obs authz.Observer, labels map[string]string) authz.Record {
	t.Helper()
	var got authz.Record
	a := &authz.Authorizer{Engine: e, Images: &imagefacts.Source{}, PluginName: "hardened-authz", Observer: authz.Observers{observerFunc(func(r authz.Record) { got = r }), obs}}
	if obs == nil {
		a.Observer = observerFunc(func(r authz.Record) { got = r })
	}
	all := map[string]string{"com.acme.db-password": "x-" + t.Name()}
	for k, v := range labels {
		all[k] = v
	}
	body, _ := json.Marshal(map[string]any{"Image": "docker.io/library/busybox:1.36", "Labels": all})
	a.AuthZReq(context.Background(), authorization.Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/create?name=fleet", RequestBody: body, RequestHeaders: map[string]string{"Content-Type": "application/json"}})
	return got
}

type observerFunc func(authz.Record)

func (f observerFunc) Observe(_ context.Context, r authz.Record) { f(r) }

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFleetActivatesValidatesAndUploads runs the whole loop against a
// local bundle server: a signed bundle is pulled and serves, a new
// revision replaces it, a tampered one and one whose tests fail are
// rejected while the previous serves on, and decisions reach the
// collector gzipped, masked and with the bundle revision.
func TestFleetActivatesValidatesAndUploads(t *testing.T) {
	private, public := testKeys()
	sc := bundle.NewSigningConfig(private, "RS256", "")
	srv := &fleettest.ControlPlane{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	v1 := build(t, shippedFiles(t, map[string][]byte{"acme/rule.rego": labelRule("v1")}), "v1", sc)
	srv.SetBundle(v1)

	config := fmt.Sprintf(`
services:
  central:
    url: %s
keys:
  fleet_key:
    algorithm: RS256
    key: |
%s
bundles:
  fleet:
    service: central
    resource: bundles/fleet.tar.gz
    polling: {min_delay_seconds: 1, max_delay_seconds: 1}
    signing: {keyid: fleet_key}
decision_logs:
  service: central
  reporting: {min_delay_seconds: 1, max_delay_seconds: 1}
status:
  service: central
`, hs.URL, indent(public, "      "))
	cfg, err := Parse(Options{Config: []byte(config), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.UploadsDecisions() || strings.Join(cfg.Bundles(), ",") != "fleet" {
		t.Fatalf("parsed: uploads=%v bundles=%v", cfg.UploadsDecisions(), cfg.Bundles())
	}
	e, err := policy.New(context.Background(), policy.Sources{Library: rego.FS, Rules: policies.FS})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		rejected []error
		gens     = map[uint64]map[string]string{}
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fl, err := cfg.Start(ctx, Hooks{
		Apply: func(ctx context.Context, bundles []Bundle) (string, error) {
			src := policy.Sources{Library: rego.FS, Rules: policies.FS, TrustShipped: true}
			revs := map[string]string{}
			for _, b := range bundles {
				src.Layers = append(src.Layers, b.Layer)
				revs[b.Name] = b.Revision
			}
			v, err := policy.Validate(ctx, src)
			if err != nil {
				return "", err
			}
			e.Install(v)
			mu.Lock()
			gens[e.Generation()] = revs
			mu.Unlock()
			return v.Revision(), nil
		},
		OnRejected: func(_ string, err error) { mu.Lock(); rejected = append(rejected, err); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	up := fl.Uploader(decisionlog.Options{Bundles: func(g uint64) map[string]string { mu.Lock(); defer mu.Unlock(); return gens[g] }})
	if up == nil {
		t.Fatal("no uploader with decision_logs configured")
	}
	active := func(rev string) func() bool { return func() bool { return fl.Active()["fleet"] == rev } }
	waitUntil(t, "revision v1 to serve", active("v1"))
	if rec := decide(t, e, up, map[string]string{"fleet.deny": "1"}); rec.Allow || !strings.Contains(rec.Msg, "denied by v1") {
		t.Fatalf("v1 does not decide: %v %q", rec.Allow, rec.Msg)
	}

	srv.SetBundle(build(t, shippedFiles(t, map[string][]byte{"acme/rule.rego": labelRule("v2")}), "v2", sc))
	waitUntil(t, "revision v2 to serve", active("v2"))
	if rec := decide(t, e, up, map[string]string{"fleet.deny": "1"}); !strings.Contains(rec.Msg, "denied by v2") {
		t.Fatalf("v2 does not decide: %q", rec.Msg)
	}

	rejections := func() int { mu.Lock(); defer mu.Unlock(); return len(rejected) }
	srv.SetBundle(tamper(t, build(t, shippedFiles(t, map[string][]byte{"acme/rule.rego": labelRule("v3")}), "v3", sc), "/acme/rule.rego", func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte(`input.container.labels["fleet.deny"]`), []byte(`false`))
	}))
	waitUntil(t, "the tampered bundle to be rejected", func() bool { return rejections() > 0 })
	failing := map[string][]byte{"acme/rule.rego": labelRule("v4"), "acme/rule_test.rego": []byte("package hardened.rules.fleet_test\n\ntest_fails if false\n")}
	srv.SetBundle(build(t, shippedFiles(t, failing), "v4", sc))
	n := rejections()
	waitUntil(t, "the bundle whose tests fail to be rejected", func() bool { return rejections() > n })
	if got := fl.Active()["fleet"]; got != "v2" {
		t.Fatalf("after two bad bundles %q serves, want v2", got)
	}
	if rec := decide(t, e, up, map[string]string{"fleet.deny": "1"}); !strings.Contains(rec.Msg, "denied by v2") {
		t.Fatalf("v2 does not serve on: %q", rec.Msg)
	}

	up.Close()
	// With a deadline, as serve stops it: the logs plugin sends what it
	// buffered.
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	fl.Stop(sctx)
	got := srv.Received()
	if len(got.Events) < 3 || !got.Gzipped {
		t.Fatalf("the collector got %d events (gzip %v), want 3 gzipped", len(got.Events), got.Gzipped)
	}
	raw, _ := json.Marshal(got.Events)
	if bytes.Contains(raw, []byte("x-"+t.Name())) {
		t.Errorf("a secret label's value reached the collector: %s", raw)
	}
	// Status says what serves, and why the last revision does not.
	var sawActive, sawError bool
	for _, st := range got.Status {
		bs, _ := st["bundles"].(map[string]any)
		b, _ := bs["fleet"].(map[string]any)
		sawActive = sawActive || b["active_revision"] == "v2"
		sawError = sawError || (b["active_revision"] == "v2" && b["message"] != nil && b["message"] != "")
	}
	if !sawActive || !sawError {
		t.Errorf("status reports: active v2 %v, an error with v2 serving %v (%d reports)", sawActive, sawError, len(got.Status))
	}
	last := got.Events[len(got.Events)-1]
	if b, _ := json.Marshal(last["bundles"]); string(b) != `{"fleet":{"revision":"v2"}}` {
		t.Errorf("bundles %s, want fleet at v2", b)
	}
	if l, _ := last["labels"].(map[string]any); l["app"] != "hardened-authz" || l["hardened_authz_version"] != "test" || l["id"] == "" {
		t.Errorf("labels %v", last["labels"])
	}
	if last["path"] != decisionlog.QueryPath || last["decision_id"] == "" {
		t.Errorf("event path %v id %v", last["path"], last["decision_id"])
	}
	labels, _ := last["input"].(map[string]any)["container"].(map[string]any)["labels"].(map[string]any)
	if labels["com.acme.db-password"] != "<redacted>" || labels["fleet.deny"] != "1" {
		t.Errorf("the labels are not masked as in the local log: %v", labels)
	}
	if res, _ := last["result"].(map[string]any); res["allow"] != false {
		t.Errorf("result %v", last["result"])
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// TestPersistedBundleServesWhileTheServerIsAway: with persist, the last
// activated revision is kept on disk and, after a restart with the bundle
// server down, verified and served again; a file altered on disk is
// refused.
func TestPersistedBundleServesWhileTheServerIsAway(t *testing.T) {
	private, public := testKeys()
	srv := &fleettest.ControlPlane{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	srv.SetBundle(build(t, shippedFiles(t, map[string][]byte{"acme/rule.rego": labelRule("p1")}), "p1", bundle.NewSigningConfig(private, "RS256", "")))
	dir := t.TempDir()
	config := fmt.Sprintf(`
persistence_directory: %s
services: {central: {url: %s}}
keys:
  fleet_key:
    algorithm: RS256
    key: |
%s
bundles:
  fleet:
    service: central
    resource: bundles/fleet.tar.gz
    persist: true
    polling: {min_delay_seconds: 1, max_delay_seconds: 1}
    signing: {keyid: fleet_key}
`, dir, hs.URL, indent(public, "      "))
	run := func(want string) (*Fleet, *policy.Engine) {
		t.Helper()
		cfg, err := Parse(Options{Config: []byte(config)})
		if err != nil {
			t.Fatal(err)
		}
		e, err := policy.New(context.Background(), policy.Sources{Library: rego.FS, Rules: policies.FS})
		if err != nil {
			t.Fatal(err)
		}
		fl, err := cfg.Start(context.Background(), Hooks{Apply: func(ctx context.Context, bundles []Bundle) (string, error) {
			src := policy.Sources{Library: rego.FS, Rules: policies.FS, TrustShipped: true}
			for _, b := range bundles {
				src.Layers = append(src.Layers, b.Layer)
			}
			v, err := policy.Validate(ctx, src)
			if err != nil {
				return "", err
			}
			e.Install(v)
			return v.Revision(), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if want != "" {
			waitUntil(t, "revision "+want, func() bool { return fl.Active()["fleet"] == want })
		}
		return fl, e
	}
	fl, _ := run("p1")
	fl.Stop(context.Background())
	kept := filepath.Join(dir, "bundles", "fleet", "bundle.tar.gz")
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("the activated bundle was not kept: %v", err)
	}

	srv.SetBundle(nil) // the server is away
	fl, e := run("p1")
	if rec := decide(t, e, nil, map[string]string{"fleet.deny": "1"}); !strings.Contains(rec.Msg, "denied by p1") {
		t.Errorf("the persisted bundle does not decide: %q", rec.Msg)
	}
	fl.Stop(context.Background())

	raw, err := os.ReadFile(kept)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kept, tamper(t, raw, "/acme/rule.rego", func(b []byte) []byte { return append(b, []byte("\n# edited on disk\n")...) }), 0o600); err != nil {
		t.Fatal(err)
	}
	fl, _ = run("")
	defer fl.Stop(context.Background())
	time.Sleep(2 * time.Second)
	if got := fl.Active()["fleet"]; got != "" {
		t.Errorf("a bundle altered on disk serves (%q)", got)
	}
}

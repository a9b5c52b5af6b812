package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/fleet"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// probeRule is a rule whose message says who shipped it.
func probeRule(who string) []byte {
	return []byte(`package hardened.rules.served_probe

import data.hardened.lib.violation

# METADATA
# title: Served probe
# custom:
#   id: SRV001
#   severity: error
deny contains violation.new(rego.metadata.rule(), "from ` + who + `", {"summary": "x"}) if input.action == "probe"
`)
}

func probe(t *testing.T, e *policy.Engine) string {
	t.Helper()
	res, err := e.Evaluate(context.Background(), ast.MustParseTerm(`{"action": "probe"}`).Value)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, v := range res.Deny {
		msgs = append(msgs, v.Message)
	}
	return strings.Join(msgs, "; ")
}

// TestServedSetLaysDirsOverBundlesAndKeepsThemAcrossReloads: a bundle
// activation and a reload of the --policy directories each validate the
// whole set with the other's latest input: a --policy file at the same
// path wins over the bundle's, a reload keeps the bundle, and the decision
// log's bundles follow the generation that serves.
func TestServedSetLaysDirsOverBundlesAndKeepsThemAcrossReloads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := validatedEngine(ctx, []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := newServedSet([]string{dir})
	if got := probe(t, e); got != "" {
		t.Fatalf("before any bundle: %q", got)
	}

	layer := policy.Layer{Origin: "bundle:fleet/", Files: map[string][]byte{"probe/probe.rego": probeRule("the bundle")}}
	if _, err := set.activate(e)(ctx, []fleet.Bundle{{Name: "fleet", Revision: "b1", Layer: layer}}); err != nil {
		t.Fatal(err)
	}
	if got := probe(t, e); got != "SRV001: from the bundle" {
		t.Fatalf("after the bundle: %q", got)
	}
	if got := set.bundlesOf(e.Generation()); got["fleet"] != "b1" {
		t.Errorf("bundles of the serving generation: %v", got)
	}
	old := e.Generation()

	// The host's directory overrides the same file; a reload takes it and
	// keeps the bundle under it.
	if err := os.MkdirAll(filepath.Join(dir, "probe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe", "probe.rego"), probeRule("the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, changed, err := set.apply(e, nil)(ctx); err != nil || !changed {
		t.Fatalf("reload: changed=%v %v", changed, err)
	}
	if got := probe(t, e); got != "SRV001: from the host" {
		t.Fatalf("--policy over the bundle: %q", got)
	}
	if got := set.bundlesOf(e.Generation()); got["fleet"] != "b1" {
		t.Errorf("the reload lost the bundle: %v", got)
	}
	if got := set.bundlesOf(old); got != nil {
		t.Errorf("a replaced generation still names bundles: %v", got)
	}

	// A bundle whose test fails is refused and the set stays.
	bad := policy.Layer{Origin: "bundle:fleet/", Files: map[string][]byte{"probe/probe_test.rego": []byte("package hardened.rules.served_probe\n\ntest_no if false\n")}}
	gen := e.Generation()
	if _, err := set.activate(e)(ctx, []fleet.Bundle{{Name: "fleet", Revision: "b2", Layer: bad}}); err == nil || !strings.Contains(err.Error(), "test_no") {
		t.Fatalf("a bundle whose test fails: %v", err)
	}
	if e.Generation() != gen || set.bundlesOf(gen)["fleet"] != "b1" {
		t.Errorf("the rejected bundle changed what serves")
	}
}

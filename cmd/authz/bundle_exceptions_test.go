package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/fleet"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// Exceptions travel in a bundle: `authz bundle build --exceptions` puts
// the file in it as exceptions/data.json, the served set hands them to
// serve's enforcement beside the host's own --exceptions file when the
// bundle is activated, and a bundle whose exceptions do not parse is
// rejected with the old set and exceptions serving on.
func TestBundleCarriesExceptions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fleetX := write("fleet.yaml", "exceptions:\n  - rules: [HA002]\n    compose_service: legacy\n    reason: the fleet accepts it until the rewrite\n    expires: 2099-12-31\n")
	out := filepath.Join(dir, "bundle.tar.gz")
	if err := runBundleBuild(ctx, &bytes.Buffer{}, bundleBuildOptions{output: out, exceptions: fleetX}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := fleet.ReadBundle(f, "fleet", nil)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := fleet.LayerOf("fleet", b)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := layer.Files[bundleExceptionsFile]; !ok {
		t.Fatalf("no %s in the bundle", bundleExceptionsFile)
	}

	// Serve's enforcement: the host's file, then the bundle's.
	host, _, err := enforce.ParseExceptions("host.yaml", []byte("exceptions:\n  - rules: [HA007]\n    container: web\n    reason: the host's own\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var served *enforce.Policy
	sources := &enforcementSources{file: &enforce.Policy{Mode: enforce.Enforce, Exceptions: host}, set: func(p *enforce.Policy) { served = p }}
	e, err := validatedEngine(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := newServedSet(nil)
	set.onExceptions = sources.setBundle
	if _, err := set.activate(e)(ctx, []fleet.Bundle{{Name: "fleet", Revision: "r1", Layer: layer}}); err != nil {
		t.Fatal(err)
	}
	if served == nil || served.Exceptions.Len() != 2 || served.Exceptions.List[0].Reason != "the host's own" ||
		served.Exceptions.List[1].Reason != "the fleet accepts it until the rewrite" {
		t.Fatalf("served exceptions: %+v", served)
	}

	// A revision with an exceptions file that does not parse is refused,
	// and what served stays.
	bad := policyLayer(layer, map[string][]byte{bundleExceptionsFile: []byte(`{"exceptions": [{"rules": ["HA002"]}]}`)})
	rev := e.Revision()
	_, err = set.activate(e)(ctx, []fleet.Bundle{{Name: "fleet", Revision: "r2", Layer: bad}})
	if err == nil || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("a bundle whose exception has no reason: %v", err)
	}
	if e.Revision() != rev || served.Exceptions.Len() != 2 {
		t.Error("the rejected revision changed what serves")
	}

	// The bundle's exceptions go when a bundle without them replaces it.
	plain := policyLayer(layer, map[string][]byte{bundleExceptionsFile: nil})
	if _, err := set.activate(e)(ctx, []fleet.Bundle{{Name: "fleet", Revision: "r3", Layer: plain}}); err != nil {
		t.Fatal(err)
	}
	if served.Exceptions.Len() != 1 {
		t.Errorf("after a bundle without exceptions: %d exceptions serve, want the host's 1", served.Exceptions.Len())
	}

	// Two lists for one bundle are refused at build time.
	pol := t.TempDir()
	if err := os.MkdirAll(filepath.Join(pol, "exceptions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pol, "exceptions", "data.json"), []byte(`{"exceptions": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var u usageError
	if err := runBundleBuild(ctx, &bytes.Buffer{}, bundleBuildOptions{output: out, policyDirs: []string{pol}, exceptions: fleetX}); !errors.As(err, &u) {
		t.Errorf("exceptions given twice: %v, want a usage error", err)
	}
}

// policyLayer is l with files replaced (a nil content removes the file).
func policyLayer(l policy.Layer, files map[string][]byte) policy.Layer {
	out := policy.Layer{Origin: l.Origin, Files: map[string][]byte{}}
	for p, c := range l.Files {
		out.Files[p] = c
	}
	for p, c := range files {
		if c == nil {
			delete(out.Files, p)
			continue
		}
		out.Files[p] = c
	}
	return out
}

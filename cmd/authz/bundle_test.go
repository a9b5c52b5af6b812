package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/hardened-authz/hardened-authz/internal/fleet"
)

// TestBundleBuildSignsTheSetWithTheTeamsRules: the bundle holds the
// shipped set and testdata/acme, reads back with OPA's reader, verifies
// with the public key, and carries the revision asked for.
func TestBundleBuildSignsTheSetWithTheTeamsRules(t *testing.T) {
	dir := t.TempDir()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	out := filepath.Join(dir, "bundle.tar.gz")
	var stdout bytes.Buffer
	err = runBundleBuild(context.Background(), &stdout, bundleBuildOptions{output: out, policyDirs: []string{"../../testdata/acme"}, signKey: keyFile, signingAlg: "RS256", revision: "acme-7"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "revision acme-7") || !strings.Contains(stdout.String(), "signed RS256") {
		t.Errorf("output: %s", stdout.String())
	}
	if strings.Contains(stdout.String(), "PRIVATE") {
		t.Errorf("the key was printed")
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vc := bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{"k": {Key: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})), Algorithm: "RS256"}}, "k", "", nil)
	b, err := fleet.ReadBundle(f, "acme", vc)
	if err != nil {
		t.Fatalf("the bundle does not verify with the public key: %v", err)
	}
	if b.Manifest.Revision != "acme-7" {
		t.Errorf("revision %q", b.Manifest.Revision)
	}
	layer, err := fleet.LayerOf("acme", b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acme_registry.rego", "acme_registry_test.rego", "rego/main.rego", "catalog/data.json"} {
		if _, ok := layer.Files[want]; !ok {
			t.Errorf("no %s in the bundle", want)
		}
	}
}

// TestBundleBuildRefusesAFailingSet: a directory whose test fails is not
// written, and the error names the test; usage mistakes are usage errors.
func TestBundleBuildRefusesAFailingSet(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "acme")
	if err := os.MkdirAll(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pol, "x_test.rego"), []byte("package acme.x\n\ntest_broken if false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bundle.tar.gz")
	err := runBundleBuild(context.Background(), &bytes.Buffer{}, bundleBuildOptions{output: out, policyDirs: []string{pol}})
	if err == nil || !strings.Contains(err.Error(), "test_broken") {
		t.Fatalf("a set whose test fails: %v", err)
	}
	if _, statErr := os.Stat(out); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("the bundle was written anyway")
	}
	var u usageError
	for _, o := range []bundleBuildOptions{
		{},
		{output: out, signKey: "no-such-key.pem", signingAlg: "RS256"},
		{output: out, signKey: "bundle_test.go", signingAlg: "none"},
		{output: out, claimsFile: "c.json"},
	} {
		if err := runBundleBuild(context.Background(), &bytes.Buffer{}, o); !errors.As(err, &u) {
			t.Errorf("%+v: %v, want a usage error", o, err)
		}
	}
}

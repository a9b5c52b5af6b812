// Package fleet connects `authz serve` to an OPA management plane: it pulls
// policy bundles through OPA's downloader (services, credentials, polling
// and signature verification as OPA's configuration file describes them),
// validates each new revision as a hot reload before it serves, uploads
// the decisions to OPA's decision-log plugin and reports status; and it
// builds the bundles (Build) that `authz bundle build` writes.
package fleet

import (
	"archive/tar"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// BuildOptions say what goes into a bundle besides its files.
type BuildOptions struct {
	// Revision is the manifest's revision, which the plugin reports in
	// its decision log and status. Required.
	Revision string
	// Signing signs the bundle (OPA's .signatures.json) when set.
	Signing *bundle.SigningConfig
	// KeyID is written as the token's deprecated keyid claim when there
	// is no claims file; the verifier's `keyid` in the OPA configuration
	// names the key otherwise.
	KeyID string
}

// Built describes a bundle Build wrote.
type Built struct {
	Revision string
	Roots    []string
	Files    int
	Signed   bool
}

// Build writes files as an OPA bundle (a gzipped tar with a .manifest, and
// .signatures.json when opts.Signing is set) to w.
//
// bundle.Writer is not used on purpose: it merges every data document into
// one /data.json, and the plugin lays a bundle over its embedded set file
// by file, as it lays a --policy directory (policy.Layer), so each
// data.json must stay at its own path (catalog/data.json replaces the
// shipped catalog, enforcement/data.json adds the modes). OPA reads such a
// bundle as well: data files in subdirectories are loaded at their path.
// The signature covers every file as OPA's verifier hashes it (JSON
// documents by their canonical form, other files byte for byte).
func Build(w io.Writer, files []policy.BundleFile, opts BuildOptions) (Built, error) {
	if opts.Revision == "" {
		return Built{}, errors.New("bundle: a revision is required")
	}
	roots, err := rootsOf(files)
	if err != nil {
		return Built{}, err
	}
	manifest := bundle.Manifest{Revision: opts.Revision, Roots: &roots}
	rawManifest, err := json.Marshal(manifest)
	if err != nil {
		return Built{}, err
	}
	type entry struct {
		name    string
		content []byte
	}
	entries := []entry{{".manifest", rawManifest}}
	for _, f := range files {
		entries = append(entries, entry{f.Path, f.Content})
	}
	if opts.Signing != nil {
		infos := make([]bundle.FileInfo, 0, len(entries))
		for _, e := range entries {
			fi, err := fileInfo(e.name, e.content)
			if err != nil {
				return Built{}, err
			}
			infos = append(infos, fi)
		}
		token, err := bundle.GenerateSignedToken(infos, opts.Signing, opts.KeyID)
		if err != nil {
			return Built{}, fmt.Errorf("sign the bundle: %w (check --sign and --signing-alg: an RSA or EC private key in PEM for RS*/PS*/ES*, the shared secret for HS*)", err)
		}
		sigs, err := json.Marshal(bundle.SignaturesConfig{Signatures: []string{token}, Plugin: opts.Signing.Plugin})
		if err != nil {
			return Built{}, err
		}
		entries = append(entries, entry{".signatures.json", sigs})
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		// A fixed time and mode: the same files make the same bytes.
		hdr := &tar.Header{Name: "/" + e.name, Mode: 0o644, Size: int64(len(e.content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return Built{}, err
		}
		if _, err := tw.Write(e.content); err != nil {
			return Built{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return Built{}, err
	}
	if err := gz.Close(); err != nil {
		return Built{}, err
	}
	return Built{Revision: opts.Revision, Roots: roots, Files: len(files), Signed: opts.Signing != nil}, nil
}

// fileInfo is a file's entry in the signature, hashed as
// bundle.VerifyBundleFile hashes it when the bundle is read.
func fileInfo(name string, content []byte) (bundle.FileInfo, error) {
	h, err := bundle.NewSignatureHasher(bundle.SHA256)
	if err != nil {
		return bundle.FileInfo{}, err
	}
	var v any = content
	if bundle.IsStructuredDoc(name) {
		var doc any
		if err := util.Unmarshal(content, &doc); err != nil {
			return bundle.FileInfo{}, fmt.Errorf("bundle file %s: %w", name, err)
		}
		v = doc
	}
	sum, err := h.HashFile(v)
	if err != nil {
		return bundle.FileInfo{}, err
	}
	return bundle.NewFile(name, hex.EncodeToString(sum), bundle.SHA256.String()), nil
}

// rootsOf are the manifest roots of files: the first segment of every
// package and of every data document's path. OPA requires a bundle's
// content to lie under its roots, and the roots of two bundles served
// together not to overlap; the first segment is the coarsest claim that
// still lets another bundle own other top-level packages.
func rootsOf(files []policy.BundleFile) ([]string, error) {
	set := map[string]bool{}
	for _, f := range files {
		switch {
		case f.Data:
			dir := path.Dir(f.Path)
			if dir != "." {
				set[strings.Split(dir, "/")[0]] = true
				continue
			}
			var doc map[string]any
			if err := util.Unmarshal(f.Content, &doc); err != nil {
				return nil, fmt.Errorf("bundle file %s: %w", f.Path, err)
			}
			for k := range doc {
				set[k] = true
			}
		case strings.HasSuffix(f.Path, ".rego"):
			pkg, err := packageOf(f.Path, f.Content)
			if err != nil {
				return nil, err
			}
			set[pkg] = true
		}
	}
	roots := make([]string, 0, len(set))
	for r := range set {
		roots = append(roots, r)
	}
	sort.Strings(roots)
	return roots, nil
}

// packageOf is the first segment of a module's package (hardened for
// package hardened.rules.x).
func packageOf(name string, content []byte) (string, error) {
	m, err := ast.ParseModuleWithOpts(name, string(content), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return "", fmt.Errorf("bundle file %s: %w", name, err)
	}
	p := m.Package.Path
	if len(p) < 2 {
		return "", fmt.Errorf("bundle file %s: package %s has no name", name, p)
	}
	s, ok := p[1].Value.(ast.String)
	if !ok {
		return "", fmt.Errorf("bundle file %s: package %s does not start with a name", name, p)
	}
	return string(s), nil
}

// ReadBundle reads a bundle as the plugin reads one it downloads: data
// files kept as they are, and the signature verified with vc when vc is
// set (a nil vc skips verification). The result can be turned into the
// set it serves with LayerOf.
func ReadBundle(r io.Reader, name string, vc *bundle.VerificationConfig) (*bundle.Bundle, error) {
	reader := bundle.NewCustomReader(bundle.NewTarballLoaderWithBaseURL(r, "")).
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotations(true).
		WithLazyLoadingMode(true).
		WithBundleName(name)
	if vc != nil {
		reader = reader.WithBundleVerificationConfig(vc)
	} else {
		reader = reader.WithSkipBundleVerification(true)
	}
	b, err := reader.Read()
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// LayerOf is the policy layer a bundle lays over the embedded set: its
// Rego modules at their paths, and its data.json documents at theirs.
//
// Refused, with what to do: delta bundles (they patch a store this plugin
// does not keep), Wasm and plan modules (the plugin evaluates Rego), and
// YAML data files (the overlay is by data.json file). A bundle read with
// its data merged (not in lazy mode) gives one data.json at the root.
func LayerOf(name string, b *bundle.Bundle) (policy.Layer, error) {
	switch {
	case b.Type() == bundle.DeltaBundleType:
		return policy.Layer{}, fmt.Errorf("bundle %s is a delta bundle: serve a snapshot bundle (authz bundle build writes one)", name)
	case len(b.WasmModules) > 0 || len(b.Wasm) > 0 || len(b.PlanModules) > 0:
		return policy.Layer{}, fmt.Errorf("bundle %s has Wasm or plan modules: this plugin evaluates Rego modules only; build the bundle without --target wasm/plan", name)
	}
	files := map[string][]byte{}
	for _, m := range b.Modules {
		p := m.RelativePath
		if p == "" {
			p = m.Path
		}
		files[strings.TrimPrefix(path.Clean("/"+p), "/")] = m.Raw
	}
	rawData := false
	for _, r := range b.Raw {
		p := strings.TrimPrefix(path.Clean("/"+r.Path), "/")
		switch {
		case strings.HasSuffix(p, ".rego"):
			// The lazy reader keeps modules here too; Modules has them.
		case path.Base(p) == "data.json":
			files[p] = r.Value
			rawData = true
		case bundle.IsYAMLDataFile(p):
			return policy.Layer{}, fmt.Errorf("bundle %s: %s: data files must be data.json documents; convert it to JSON", name, p)
		}
	}
	if !rawData && len(b.Data) > 0 {
		doc, err := json.Marshal(b.Data)
		if err != nil {
			return policy.Layer{}, fmt.Errorf("bundle %s: data: %w", name, err)
		}
		files["data.json"] = doc
	}
	return policy.Layer{Origin: "bundle:" + name + "/", Files: files}, nil
}

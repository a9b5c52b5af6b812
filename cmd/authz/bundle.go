package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/atomicfile"
	"github.com/hardened-authz/hardened-authz/internal/enforce"
	"github.com/hardened-authz/hardened-authz/internal/fleet"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

type bundleBuildOptions struct {
	output     string
	policyDirs []string
	signKey    string
	signingAlg string
	claimsFile string
	revision   string
	exceptions string
}

func newBundleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Build OPA bundles of the policies for `authz serve --opa-config`",
		Args:  cobra.NoArgs,
	}
	o := bundleBuildOptions{}
	build := &cobra.Command{
		Use:   "build -o FILE [--policy DIR]... [--exceptions FILE] [--sign KEY [--signing-alg ALG] [--claims-file FILE]] [--revision R]",
		Short: "Validate the policies and write them as an OPA bundle (tar.gz), signed with --sign",
		Long: `Write the policy set ` + "`authz serve --policy DIR...`" + ` would serve (the shipped
library, rules and catalog with each DIR laid over them) as an OPA bundle:
a gzipped tar with a .manifest (revision and roots) and, with --sign, a
.signatures.json that OPA's bundle verification checks. Serve it from any
bundle server (HTTP, S3, nginx) to plugins started with --opa-config.

The set is validated first as ` + "`authz policy test`" + ` does (compiled, type-checked,
the shipped tests and the DIRs' tests run); a set that fails is not
written (exit 1). The tests travel in the bundle, and every plugin runs
them again before the revision serves.

--sign is the file of the private key in PEM (RS256, RS384, RS512, PS*,
ES*) or of the shared secret (HS256, HS384, HS512): a file, so that the
key is not on the command line, where ps shows it, and a mistyped path is
an error rather than a secret. Verify with the public key (or the secret)
under ` + "`keys`" + ` in the OPA configuration. --revision defaults to the set's revision, a digest of its
files.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBundleBuild(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := build.Flags()
	f.StringVarP(&o.output, "output", "o", "", "write the bundle to FILE (required)")
	f.StringArrayVar(&o.policyDirs, "policy", nil, "directory of policies laid over the embedded ones, as for serve (repeatable)")
	f.StringVar(&o.signKey, "sign", "", "sign the bundle with the key in this file: a PEM private key, or the secret for HS*")
	f.StringVar(&o.signingAlg, "signing-alg", "RS256", "signature algorithm: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, HS256, HS384 or HS512")
	f.StringVar(&o.claimsFile, "claims-file", "", "JSON file of claims to add to the signature (needs --sign)")
	f.StringVar(&o.revision, "revision", "", "the manifest's revision (default: the set's revision, a digest of its files)")
	f.StringVar(&o.exceptions, "exceptions", "", "put this exceptions file (YAML or JSON, as for serve --exceptions) in the bundle, as "+bundleExceptionsFile+": every plugin that serves the bundle applies it beside its own")
	cmd.AddCommand(build)
	return cmd
}

// signingAlgs are the algorithms OPA's bundle signing takes.
var signingAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"}

func (o bundleBuildOptions) check() error {
	if o.output == "" {
		return usageError{errors.New("-o FILE is required: where to write the bundle")}
	}
	for _, d := range o.policyDirs {
		st, err := os.Stat(d)
		if err != nil {
			return usageError{fmt.Errorf("--policy: %w", err)}
		}
		if !st.IsDir() {
			return usageError{fmt.Errorf("--policy %s is not a directory: pass the directory that holds the .rego files", d)}
		}
	}
	if o.signKey == "" {
		if o.claimsFile != "" {
			return usageError{errors.New("--claims-file needs --sign")}
		}
		return nil
	}
	if st, err := os.Stat(o.signKey); err != nil || st.IsDir() {
		return usageError{fmt.Errorf("--sign %s: want the file of the private key (or HS* secret)", o.signKey)}
	}
	alg := strings.ToUpper(o.signingAlg)
	for _, a := range signingAlgs {
		if a == alg {
			return nil
		}
	}
	return usageError{fmt.Errorf("--signing-alg %q: want one of %s", o.signingAlg, strings.Join(signingAlgs, ", "))}
}

func runBundleBuild(ctx context.Context, w io.Writer, o bundleBuildOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	src := policySources(o.policyDirs)
	v, err := policy.Validate(ctx, src)
	if err != nil {
		return fmt.Errorf("not written: %w", err)
	}
	files, err := src.BundleFiles()
	if err != nil {
		return err
	}
	if files, err = withExceptions(files, o.exceptions); err != nil {
		return err
	}
	opts := fleet.BuildOptions{Revision: o.revision}
	if opts.Revision == "" {
		opts.Revision = v.Revision()
	}
	if o.signKey != "" {
		opts.Signing = bundle.NewSigningConfig(o.signKey, strings.ToUpper(o.signingAlg), o.claimsFile)
	}
	var buf bytes.Buffer
	built, err := fleet.Build(&buf, files, opts)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(o.output, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the bundle: %w", err)
	}
	signed := "unsigned"
	if built.Signed {
		signed = "signed " + strings.ToUpper(o.signingAlg)
	}
	_, err = fmt.Fprintf(w, "bundle %s: revision %s, %d files, roots %s, %s (%d tests passed)\n", o.output, built.Revision, built.Files, strings.Join(built.Roots, ","), signed, len(v.Tests))
	return err
}

// withExceptions adds the exceptions file at path to the bundle's files,
// validated as serve validates it and written as JSON, the form a bundle
// carries data in. A set that already has one (a --policy directory's
// exceptions/data.json) is an error: two lists would be one too many to
// reason about.
func withExceptions(files []policy.BundleFile, path string) ([]policy.BundleFile, error) {
	if path == "" {
		return files, nil
	}
	for _, f := range files {
		if f.Path == bundleExceptionsFile {
			return nil, usageError{fmt.Errorf("--exceptions %s: the policy directories already carry %s; keep one of the two", path, bundleExceptionsFile)}
		}
	}
	x, warnings, err := enforce.LoadExceptions(path, time.Now())
	if err != nil {
		return nil, usageError{fmt.Errorf("--exceptions: %w", err)}
	}
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "authz bundle build: warning:", w)
	}
	raw, err := x.JSON()
	if err != nil {
		return nil, err
	}
	return append(files, policy.BundleFile{Path: bundleExceptionsFile, Content: raw, Data: true}), nil
}

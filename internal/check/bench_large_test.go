package check

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"

	"github.com/hardened-authz/hardened-authz/internal/compose"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

// chainImages are the images the generated services cycle through: a
// shell-less hardened image, its -dev variant with a shell, the hardened
// curl image and an image the catalog does not know.
var chainImages = []string{"dhi.io/node:24", "dhi.io/node:24-dev", "dhi.io/curl:8-debian13-dev", "example.com/app:1"}

// writeChain writes a compose file of n services, each waiting for the
// one before it (depends_on with condition: service_healthy) and every
// fourth one with a shell-form healthcheck, so that the project rules
// walk the whole chain. It returns the file's path.
func writeChain(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("name: chain\nservices:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%04d:\n    image: %s\n", i, chainImages[i%len(chainImages)])
		if i%4 == 1 {
			b.WriteString("    healthcheck:\n      test: [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]\n")
		}
		if i > 0 {
			fmt.Fprintf(&b, "    depends_on:\n      s%04d:\n        condition: service_healthy\n", i-1)
		}
	}
	path := filepath.Join(tb.TempDir(), "compose.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkLargeProject measures `authz check` on one compose project of
// up to 2,000 services chained through depends_on, split into compose
// loading (compose-go plus positions; compose-go alone for comparison) and checking (documents, one policy
// evaluation per service, findings). Both must grow linearly with the
// number of services; the check of 2,000 services should cost no more
// than their loading.
func BenchmarkLargeProject(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{250, 500, 1000, 2000} {
		file := writeChain(b, n)
		// compose-go's own load of the file, the yardstick: what any
		// tool built on it pays.
		b.Run(fmt.Sprintf("services=%d/compose-go", n), func(b *testing.B) {
			for b.Loop() {
				opts, err := cli.NewProjectOptions([]string{file}, cli.WithoutEnvironmentResolution)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := opts.LoadProject(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("services=%d/load", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := compose.Load(ctx, compose.Options{Files: []string{file}}); err != nil {
					b.Fatal(err)
				}
			}
		})
		p, err := compose.Load(ctx, compose.Options{Files: []string{file}})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("services=%d/check", n), func(b *testing.B) {
			for b.Loop() {
				// A fresh engine, as each `authz check` process has:
				// nothing decided in an earlier iteration is reused.
				b.StopTimer()
				e, err := policy.New(ctx, policy.Sources{Library: rego.FS, Rules: policies.FS, TypeCheckedShipped: true})
				if err != nil {
					b.Fatal(err)
				}
				c := &Checker{Engine: e}
				b.StartTimer()
				if _, err := c.Check(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

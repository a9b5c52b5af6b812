package policy

import (
	"context"
	"testing"

	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

// BenchmarkNew compiles the embedded policy set with its catalog, as
// every `authz check` and `authz serve` does once at start-up: with the
// input schema's type check (a set with --policy directories), and
// without it (the shipped set alone, as `authz check` compiles it: see
// Sources.TypeCheckedShipped).
func BenchmarkNew(b *testing.B) {
	for _, c := range []struct {
		name    string
		trusted bool
	}{{"type-checked", false}, {"shipped-trusted", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				src := Sources{Library: rego.FS, Rules: policies.FS, TypeCheckedShipped: c.trusted}
				if _, err := New(context.Background(), src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

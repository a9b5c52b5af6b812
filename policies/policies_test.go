package policies_test

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/tester"
)

// TestRego runs the policies' and the library's Rego tests, the same set
// `go tool opa test policies rego` runs, so `go test ./...` covers them.
func TestRego(t *testing.T) {
	results, err := tester.Run(context.Background(), ".", "../rego")
	if err != nil {
		t.Fatalf("load and compile the Rego tests: %v", err)
	}
	if len(results) == 0 {
		t.Fatal("no Rego tests found under policies/ and rego/")
	}
	for _, r := range results {
		name := r.Package + "." + r.Name
		switch {
		case r.Skip:
			t.Errorf("%s is skipped (todo_test_): finish it or delete it", name)
		case r.Error != nil:
			t.Errorf("%s: error: %v (%s)", name, r.Error, r.Location)
		case r.Fail:
			t.Errorf("%s: failed (%s)", name, r.Location)
		}
	}
	t.Logf("%d Rego tests", len(results))
}

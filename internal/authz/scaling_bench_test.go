package authz

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
)

// teamRules writes n rule families of a security team's kind (one rule
// each, on the create's labels and image, as the README's example) into
// a policy directory laid over the shipped set.
func teamRules(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	for i := range n {
		rule := fmt.Sprintf(`package hardened.rules.team%[1]d

import data.hardened.lib.request
import data.hardened.lib.violation

# METADATA
# title: Team rule %[1]d
# custom:
#   id: TEAM%[1]03d
#   severity: error
deny contains violation.new(rego.metadata.rule(), msg, fix) if {
	request.is_container_create
	input.container.labels["team.example/rule-%[1]d"] == "forbidden"
	msg := sprintf("%%s carries the label team.example/rule-%[1]d", [request.subject])
	fix := {"summary": "Remove the label."}
}
`, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("team%d.rego", i)), []byte(rule), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkCreateScaling is how an evaluated create's cost grows with the
// number of rules (the shipped set plus N team rules) and with the size of
// the request body (N environment variables and N labels on the seed's
// sidecar). Every create names a new container, so each is evaluated.
func BenchmarkCreateScaling(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, a *Authorizer, body map[string]any) {
		req := authztest.CreateCall(b, "app-health", body)
		if res := a.AuthZReq(ctx, req); !res.Allow {
			b.Fatalf("the sidecar create was denied: %s", res.Msg)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(req.RequestBody)))
		uri, n := req.RequestURI, 0
		for b.Loop() {
			n++
			req.RequestURI = uri + "-" + strconv.Itoa(n)
			a.AuthZReq(ctx, req)
		}
	}
	for _, rules := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("rules=+%d", rules), func(b *testing.B) {
			var dirs []string
			if rules > 0 {
				dirs = append(dirs, teamRules(b, rules))
			}
			run(b, newAuthorizer(b, nil, dirs...), sizedSidecar(0))
		})
	}
	a := newAuthorizer(b, nil)
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("env+labels=%d", n), func(b *testing.B) { run(b, a, sizedSidecar(n)) })
	}
}

// sizedSidecar is the seed's curl sidecar with a memory limit (so no rule
// warns) and n environment variables and n labels.
func sizedSidecar(n int) map[string]any {
	c := curlSidecar()
	c["HostConfig"] = map[string]any{"Memory": 32 << 20}
	env := make([]string, n)
	labels := map[string]string{"com.docker.compose.project": "seed", "com.docker.compose.service": "app-health"}
	for i := range n {
		env[i] = fmt.Sprintf("VAR_%d=%s", i, strings.Repeat("v", 40))
		labels[fmt.Sprintf("example.com/label-%d", i)] = strings.Repeat("l", 40)
	}
	c["Env"], c["Labels"] = env, labels
	return c
}

package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
)

// Creates with huge values are decided by the rules within the decision
// deadline, and the message stays bounded.
func TestHugeCreatesStayBounded(t *testing.T) {
	a := newAuthorizer(t, nil)
	labels := map[string]string{"com.docker.compose.project": "p", "com.docker.compose.service": strings.Repeat("s", 64<<10)}
	for i := range 5000 {
		labels[fmt.Sprintf("l%d", i)] = "v"
	}
	argv := []string{"CMD", "curl"}
	for range 20000 {
		argv = append(argv, "-H", "x")
	}
	for name, body := range map[string]map[string]any{
		"long shell command": {"Image": "dhi.io/node:24-dev", "Healthcheck": map[string]any{"Test": []string{"CMD-SHELL", strings.Repeat("curl http://localhost/ && ", 100000)}}},
		"long argv":          {"Image": "dhi.io/node:24", "Healthcheck": map[string]any{"Test": argv}},
		"many labels":        {"Image": "dhi.io/node:24", "Labels": labels, "Healthcheck": map[string]any{"Test": []string{"CMD", "curl", "http://localhost:3000/" + strings.Repeat("a", 1<<20)}}},
	} {
		t.Run(name, func(t *testing.T) {
			res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "big", body))
			// A rule's ID, not HA099: the decision finished within its deadline.
			if res.Allow || len(res.Msg) > MaxMessageBytes || !strings.HasPrefix(res.Msg, "HA00") {
				t.Errorf("allow=%v, %d-byte message: %.200s", res.Allow, len(res.Msg), res.Msg)
			}
		})
	}
}

package decisionlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/policies"
	"github.com/hardened-authz/hardened-authz/rego"
)

var (
	engineOnce sync.Once
	engine     *policy.Engine
	engineErr  error
)

// newAuthorizer is an authorizer with the shipped policies, deciding on
// image names and the catalog alone (no daemon). The policies are
// compiled once per test binary.
func newAuthorizer(t testing.TB) *authz.Authorizer {
	t.Helper()
	engineOnce.Do(func() {
		engine, engineErr = policy.New(context.Background(), policy.Sources{Library: rego.FS, Rules: policies.FS})
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return &authz.Authorizer{Engine: engine, Images: &imagefacts.Source{}, PluginName: "hardened-authz"}
}

// composeApp is a compose-created hardened node app whose healthcheck
// runs test: with curl, which the image lacks, it is denied (HA002).
func composeApp(image string, test ...string) map[string]any {
	return map[string]any{
		"Image":       image,
		"Healthcheck": map[string]any{"Test": test, "Interval": 30e9},
		"Labels":      map[string]string{"com.docker.compose.project": "seed", "com.docker.compose.service": "app"},
	}
}

func deniedCreate(t testing.TB) authorization.Request {
	return authztest.CreateCall(t, "seed-app-1", composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD", "curl", "-f", "http://localhost:3000/health"))
}

// allowedCreate is a curl sidecar kept running: every rule allows it.
func allowedCreate(t testing.TB) authorization.Request {
	c := composeApp("dhi.io/curl:8-debian13-dev", "CMD", "curl", "-f", "http://api:3000/health")
	c["Entrypoint"] = []string{"sleep", "infinity"}
	return authztest.CreateCall(t, "seed-app-health-1", c)
}

// entry is what the tests read of a line.
type entry struct {
	DecisionID string         `json:"decision_id"`
	Timestamp  string         `json:"timestamp"`
	Path       string         `json:"path"`
	Labels     map[string]any `json:"labels"`
	Request    struct {
		Method, Path, Action string
	} `json:"request"`
	Image  string `json:"image"`
	Result struct {
		Allow      bool              `json:"allow"`
		Message    string            `json:"message"`
		Violations []json.RawMessage `json:"violations"`
	} `json:"result"`
	Rules          []string        `json:"rules"`
	Warnings       []string        `json:"warnings"`
	Mode           string          `json:"mode"`
	Skipped        []any           `json:"skipped"`
	LatencyNS      int64           `json:"latency_ns"`
	PolicyGen      uint64          `json:"policy_generation"`
	PolicyRevision string          `json:"policy_revision"`
	Input          json.RawMessage `json:"input"`
	InputTruncated *struct {
		Bytes int `json:"bytes"`
	} `json:"input_truncated"`
}

// parseLines parses every line of b, failing on any that is not one
// JSON object.
func parseLines(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d does not parse: %v\n%s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func violation(rule, msg string) policy.Violation {
	return policy.Violation{Rule: rule, Severity: policy.SeverityError, Title: "t", Message: msg,
		Fix: policy.Fix{Summary: strings.Repeat("s", 2000), Compose: strings.Repeat("c", 2000)}}
}

// deniedRecord is a decided deny, as AuthZReq would record it.
func deniedRecord() authz.Record {
	return authz.Record{Method: "POST", Path: "/containers/create", Action: "container.create",
		Violations: []policy.Violation{violation("HA002", "HA002: no curl")}, Msg: "HA002: no curl", Duration: time.Millisecond}
}

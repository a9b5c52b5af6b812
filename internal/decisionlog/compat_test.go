package decisionlog

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/opadockerauthz"
)

// A request the opa-docker-authz policy denies is one line with HA095 and
// the input that policy evaluated (Headers, Path, Body, …), masked like
// any logged input: its Env values, secret-looking labels and query
// parameters, credentials in strings and credential headers.
func TestCompatDenialLoggedMasked(t *testing.T) {
	const (
		envSecret   = "envSecretValue1"
		labelSecret = "labelSecretValue3"
		querySecret = "querySecretValue5"
		authSecret  = "authSecretValue6"
	)
	p, err := opadockerauthz.Compile(context.Background(), "authz.rego", []byte("package docker.authz\ndefault allow := false\n"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	a := newAuthorizer(t)
	a.SetCompat(&authz.Compat{Policy: p})
	a.Observer = New(&buf, Options{})
	req := allowedCreate(t)
	var body map[string]any
	if err := json.Unmarshal(req.RequestBody, &body); err != nil {
		t.Fatal(err)
	}
	body["Env"] = []string{"DB_PASSWORD=" + envSecret}
	body["Labels"].(map[string]any)["com.acme.api-token"] = labelSecret
	req.RequestBody, _ = json.Marshal(body)
	req.RequestURI += "&access_token=" + querySecret
	req.RequestHeaders["Proxy-Authorization"] = "Basic " + authSecret
	if res := a.AuthZReq(context.Background(), req); res.Allow || !strings.HasPrefix(res.Msg, "HA095: ") {
		t.Fatalf("not denied by the opa-docker-authz policy: %+v", res)
	}
	line := buf.String()
	for _, s := range []string{envSecret, labelSecret, querySecret, authSecret} {
		if strings.Contains(line, s) {
			t.Errorf("the log line carries %q:\n%s", s, line)
		}
	}
	lines := parseLines(t, buf.Bytes())
	if len(lines) != 1 || len(lines[0].Rules) != 1 || lines[0].Rules[0] != "HA095" || lines[0].Result.Allow {
		t.Fatalf("lines: %+v", lines)
	}
	var in struct {
		Method string
		Body   struct{ Env []string }
	}
	if err := json.Unmarshal(lines[0].Input, &in); err != nil {
		t.Fatal(err)
	}
	if in.Method != "POST" || len(in.Body.Env) != 1 || in.Body.Env[0] != "DB_PASSWORD=<redacted>" {
		t.Errorf("the input is not opa-docker-authz's, masked: %s", lines[0].Input)
	}
}

package policy

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
)

// A rule that quotes the request's healthcheck in every text it writes:
// the decision carries the texts redacted, and the --fix actions whole.
func TestDecisionsAreRedacted(t *testing.T) {
	rule := `package hardened.rules.quote

deny contains {"rule": "T002", "severity": "error", "title": "t",
	"message": sprintf("T002: the healthcheck %s cannot run", [concat(" ", input.test)]),
	"fix": {
		"summary": sprintf("probe %s from a sidecar", [input.url]),
		"compose": sprintf("    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", %q]", [input.url]),
		"docker_run": sprintf("docker run --health-cmd 'curl -f %s' x", [input.url]),
		"alternative": sprintf("fetch('%s', {headers: {Authorization: 'Bearer abc.def'}})", [input.url]),
		"actions": [{"op": "add_sidecar", "service": "app", "name": "app-health", "test": ["CMD", "curl", "-f", input.url]}],
	}} if input.url

warn contains {"rule": "T003", "severity": "warning", "title": "t", "message": sprintf("T003: %s", [input.url]), "fix": {"summary": ""}} if input.url
`
	e, err := New(context.Background(), Sources{Library: library(), Rules: fstest.MapFS{"quote/quote.rego": {Data: []byte(rule)}}})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://admin:s3cret@localhost:3000/health?token=abc123"
	r := eval(t, e, map[string]any{
		"url":  url,
		"test": []any{"curl", "-u", "admin:s3cret", "-H", "Authorization: Bearer abc.def", url},
	})
	if len(r.Deny) != 1 || len(r.Warn) != 1 {
		t.Fatalf("result = %+v", r)
	}
	v := r.Deny[0]
	for field, text := range map[string]string{
		"message": v.Message, "summary": v.Fix.Summary, "compose": v.Fix.Compose,
		"docker_run": v.Fix.DockerRun, "alternative": v.Fix.Alternative, "warning": r.Warn[0].Message,
	} {
		for _, secret := range []string{"s3cret", "abc.def", "abc123"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s carries %q: %s", field, secret, text)
			}
		}
		if !strings.Contains(text, "<redacted>") {
			t.Errorf("%s has nothing redacted: %s", field, text)
		}
	}
	if want := "T002: the healthcheck curl -u admin:<redacted> -H Authorization: Bearer <redacted> http://<redacted>@localhost:3000/health?token=<redacted> cannot run"; v.Message != want {
		t.Errorf("message\n got %q\nwant %q", v.Message, want)
	}
	if a := v.Fix.Actions; len(a) != 1 || a[0].Test[3] != url {
		t.Errorf("the --fix action must keep the user's own probe: %+v", a)
	}
}

func TestMissingRuleErrorIsRedacted(t *testing.T) {
	_, err := decodeResult(map[string]any{"deny": []any{map[string]any{"message": "curl -u admin:s3cret http://h/"}}, "warn": []any{}})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "no \"rule\" ID") {
		t.Fatalf("error = %v", err)
	}
}

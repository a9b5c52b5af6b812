//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// authzResponse is the plugin protocol's answer to AuthZReq and AuthZRes.
type authzResponse struct {
	Allow bool
	Msg   string
	Err   string
}

// TestMalformedPluginCalls sends the plugin socket calls dockerd never would.
// Each must get one clear refusal (a non-200 status with an Err, or an
// explicit Allow:false with a reason), and the plugin must keep serving.
func TestMalformedPluginCalls(t *testing.T) {
	hugeURI := `{"RequestMethod":"POST","RequestUri":"/v1.41/containers/create?name=` +
		strings.Repeat("a", 6<<20) + `","RequestHeaders":{"Content-Type":"application/json"}}`
	cases := []struct {
		name, method, body string
	}{
		{"not JSON", "/AuthZPlugin.AuthZReq", "this is { not json"},
		{"empty body", "/AuthZPlugin.AuthZReq", ""},
		{"JSON array", "/AuthZPlugin.AuthZReq", `[1,2,3]`},
		{"method is a number", "/AuthZPlugin.AuthZReq", `{"RequestMethod": 5}`},
		{"headers and body of the wrong type", "/AuthZPlugin.AuthZReq",
			`{"RequestMethod":"POST","RequestUri":"/v1.41/containers/create","RequestHeaders":"x","RequestBody":12}`},
		{"create body not base64", "/AuthZPlugin.AuthZReq",
			`{"RequestMethod":"POST","RequestUri":"/v1.41/containers/create","RequestHeaders":{"Content-Type":"application/json"},"RequestBody":"%%% not base64 %%%"}`},
		{"huge RequestUri (6 MiB)", "/AuthZPlugin.AuthZReq", hugeURI},
		{"response call not JSON", "/AuthZPlugin.AuthZRes", "{{{"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := suite.Plugin.Post(ctx, tc.method, strings.NewReader(tc.body))
			if err != nil {
				t.Fatalf("POST %s: no response: %v", tc.method, err)
			}
			t.Logf("POST %s (%d bytes) -> %d %s", tc.method, len(tc.body), resp.Status, abbreviate(resp.Body, 300))
			ar, err := decodeOne(resp.Body)
			if err != nil {
				t.Fatalf("response body is not exactly one JSON object: %v\n%s", err, abbreviate(resp.Body, 2000))
			}
			switch {
			case resp.Status != http.StatusOK:
				if strings.TrimSpace(ar.Err) == "" {
					t.Errorf("status %d without an Err: %s", resp.Status, abbreviate(resp.Body, 2000))
				}
			case ar.Allow:
				t.Errorf("a malformed call was allowed: %s", abbreviate(resp.Body, 2000))
			case strings.TrimSpace(ar.Msg) == "" && strings.TrimSpace(ar.Err) == "":
				t.Errorf("denied without a reason: %s", abbreviate(resp.Body, 2000))
			}
		})
	}

	// Still serving: a well-formed call of a read-only route is allowed.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := suite.Plugin.Post(ctx, "/AuthZPlugin.AuthZReq", strings.NewReader(
		`{"RequestMethod":"GET","RequestUri":"/v1.41/containers/json","RequestHeaders":{"User-Agent":"e2e"}}`))
	if err != nil {
		t.Fatalf("the plugin stopped answering after the malformed calls: %v", err)
	}
	ar, err := decodeOne(resp.Body)
	if resp.Status != http.StatusOK || err != nil || !ar.Allow {
		t.Fatalf("valid call after the malformed ones: %d %s (%v)", resp.Status, abbreviate(resp.Body, 2000), err)
	}
	if suite.Plugin.Exited() {
		t.Fatal("the plugin process exited")
	}
	// And dockerd still gets its answers.
	mustDocker(t, 30*time.Second, "ps")
}

// decodeOne decodes body as exactly one JSON object: trailing data (a second
// object from a handler that wrote twice) is an error.
func decodeOne(body []byte) (authzResponse, error) {
	var ar authzResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&ar); err != nil {
		return ar, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ar, errors.New("data after the first JSON value")
	}
	return ar, nil
}

// abbreviate shortens b for a log line.
func abbreviate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

//go:build e2e

package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// daemonRequest sends one request to the private dockerd's API socket with
// curl, as a client other than the docker CLI would: the request line's
// target exactly as given (origin-form or absolute-form, --request-target),
// a JSON body when body is not "" (from a file, so a body of any size
// keeps its own Content-Length), then headers. It returns the status and
// the answer as the daemon wrote it.
func daemonRequest(t *testing.T, method, target, body string, headers ...string) (int, string) {
	t.Helper()
	args := []string{"-sS", "--max-time", "60", "--unix-socket", suite.Daemon.Socket,
		"-X", method, "--request-target", target, "-o", "-", "-w", "\n%{http_code}"}
	if body != "" {
		file := filepath.Join(t.TempDir(), "body.json")
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-H", "Content-Type: application/json", "--data-binary", "@"+file)
	}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	res := suite.Docker.Run(90*time.Second, "curl", append(args, "http://docker/")...)
	if !res.OK() {
		t.Fatalf("curl failed:\n%s", res)
	}
	out := strings.TrimRight(res.Stdout, "\n")
	i := strings.LastIndexByte(out, '\n')
	status, err := strconv.Atoi(out[i+1:])
	if err != nil {
		t.Fatalf("no status at the end of curl's output:\n%s", res)
	}
	answer := strings.TrimSpace(out[:max(i, 0)])
	t.Logf("%s %s (%d-byte body) -> %d %.2000s", method, target, len(body), status, answer)
	return status, answer
}

// curlCreate sends a container create named name with body (see
// daemonRequest), and returns the status and, for an error ({"message":
// ...}), the message as docker prints it.
func curlCreate(t *testing.T, name, body string, headers ...string) (int, string) {
	t.Helper()
	status, answer := daemonRequest(t, "POST", "/v1.41/containers/create?name="+url.QueryEscape(name), body, headers...)
	var e struct{ Message string }
	if status >= 400 && json.Unmarshal([]byte(answer), &e) == nil && e.Message != "" {
		return status, e.Message
	}
	return status, answer
}

// requireNoContainer fails the test if a container called name exists,
// and removes it.
func requireNoContainer(t *testing.T, name string) {
	t.Helper()
	if ins := docker(t, 30*time.Second, "inspect", "--type", "container", name); ins.OK() {
		docker(t, 30*time.Second, "rm", "-f", name)
		t.Fatalf("the denied container %s exists", name)
	}
}

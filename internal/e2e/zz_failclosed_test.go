//go:build e2e

// This file's name sorts last on purpose: go test runs the tests of a
// package in file-name order, and this scenario stops the plugin.

package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestFailClosedWithoutPlugin stops the plugin and checks that dockerd then
// refuses a perfectly valid create (fail closed) instead of running it
// unchecked, and that nothing was created behind its back.
func TestFailClosedWithoutPlugin(t *testing.T) {
	code, err := suite.Plugin.Stop(15 * time.Second)
	if err != nil {
		t.Errorf("stopping the plugin: %v", err)
	}
	// SIGTERM is the normal way to stop it: a clean exit that removes its
	// socket.
	if code != 0 {
		t.Errorf("the plugin exited %d on SIGTERM, want 0", code)
	}
	if _, err := os.Stat(suite.Plugin.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the plugin left its socket %s behind (stat: %v)", suite.Plugin.Socket, err)
	}
	// Bring it back whatever happens, for the remaining tests and teardown.
	t.Cleanup(func() {
		if !suite.Plugin.Exited() {
			return
		}
		if err := suite.StartPlugin(); err != nil {
			t.Errorf("restarting the plugin: %v", err)
		}
	})

	name := "e2e-failclosed-" + randomHex(3)
	// dockerd retries an unreachable plugin for ~15 s per API call before it
	// answers 500. The docker CLI pings first and (CLI 28) gives up when the
	// ping fails, so it never sends the create: send the create itself too.
	res := docker(t, 90*time.Second, "create", "--name", name, ImageBusyboxDev, "sleep", "1")
	switch {
	case res.OK():
		t.Errorf("docker create succeeded without the plugin (fail open):\n%s", res)
	case res.TimedOut:
		t.Errorf("docker create hung instead of failing:\n%s", res)
	case !strings.Contains(res.Out, suite.PluginName) && !strings.Contains(res.Out, "500 Internal Server Error"):
		t.Errorf("docker create failed, but not for the plugin:\n%s", res)
	}

	status, body, err := createContainerAPI(name, `{"Image":"`+ImageBusyboxDev+`","Cmd":["sleep","1"]}`)
	t.Logf("POST /v1.41/containers/create?name=%s -> %d %s (%v)", name, status, body, err)
	if err != nil {
		t.Errorf("create through the API: %v", err)
	} else if status != http.StatusInternalServerError || !strings.Contains(body, "plugin "+suite.PluginName+" failed with error") {
		t.Errorf("create through the API answered %d %s; want 500 from the unreachable plugin", status, body)
	}

	if err := suite.StartPlugin(); err != nil {
		t.Fatalf("restarting the plugin on the same socket: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ping(ctx, unixHTTPClient(suite.Daemon.Socket)); err != nil {
		t.Fatalf("dockerd does not answer after the plugin restart: %v", err)
	}
	if ins := docker(t, 30*time.Second, "inspect", "--type", "container", name); ins.OK() {
		t.Fatalf("container %s exists although its create failed:\n%s", name, ins)
	}
	ps := mustDocker(t, 30*time.Second, "ps", "-a", "--format", "{{.Names}}")
	if strings.Contains(ps.Out, name) {
		t.Fatalf("docker ps lists %s:\n%s", name, ps.Out)
	}
}

// createContainerAPI sends one container create straight to the daemon's
// API, with no ping before it, and returns the status and body.
func createContainerAPI(name, body string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://docker/v1.41/containers/create?name="+url.QueryEscape(name), strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := unixHTTPClient(suite.Daemon.Socket).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, strings.TrimSpace(string(data)), err
}

//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The create bodies no docker CLI or compose sends, but dockerd 20.10
// accepts: sent raw with curl, straight to the private daemon's socket.

// TestBodyStringCmdIsDecidedLikeAnArray: dockerd 20.10 takes "Cmd" as a
// string, as a one-element argv (never split into words). The plugin
// decides it as the array ["/bin/sleep 5"]: allowed, and the container is
// created with that argv, which dockerd then fails to start because no
// program is named "/bin/sleep 5".
func TestBodyStringCmdIsDecidedLikeAnArray(t *testing.T) {
	for _, tc := range []struct{ name, cmd string }{
		{"string", `"/bin/sleep 5"`},
		{"array", `["/bin/sleep 5"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "e2e-strcmd-" + tc.name + "-" + randomHex(3)
			t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
			offset := suite.Plugin.LogSize()
			status, body := curlCreate(t, name, `{"Image":"`+ImageBusyboxDev+`","Cmd":`+tc.cmd+`}`)
			if status != http.StatusCreated {
				t.Fatalf("create answered %d %s; want 201", status, body)
			}
			requireDecisionOn(t, offset, ImageBusyboxDev, true, "", "")
			ins := mustDocker(t, 30*time.Second, "inspect", "-f", "{{json .Config.Cmd}}", name)
			var cmd []string
			if err := json.Unmarshal([]byte(strings.TrimSpace(ins.Stdout)), &cmd); err != nil || len(cmd) != 1 || cmd[0] != "/bin/sleep 5" {
				t.Fatalf("dockerd stored Cmd %s; want [\"/bin/sleep 5\"]", ins.Stdout)
			}
			start := docker(t, 60*time.Second, "start", name)
			if start.OK() || !strings.Contains(start.Out, "/bin/sleep 5") {
				t.Fatalf("dockerd started %q; want it to fail for lack of a program of that name:\n%s", name, start)
			}
		})
	}
}

// TestBodyStringEntrypointIsSeen: a string "Entrypoint" names the program
// as an array does, so it cannot hide it from the rules. A sidecar whose
// entrypoint `sleep` is not in the runtime curl image is HA004 either way
// (read as nothing, the image's own curl entrypoint would pass).
func TestBodyStringEntrypointIsSeen(t *testing.T) {
	for _, tc := range []struct{ name, argv string }{
		{"string", `"Entrypoint":"sleep","Cmd":"infinity"`},
		{"array", `"Entrypoint":["sleep"],"Cmd":["infinity"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "e2e-strep-" + tc.name + "-" + randomHex(3)
			t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
			offset := suite.Plugin.LogSize()
			status, body := curlCreate(t, name, `{"Image":"`+ImageCurl+`",`+tc.argv+`,
				"Healthcheck":{"Test":["CMD","curl","-f","http://app:3000/"]},"HostConfig":{"Memory":33554432}}`)
			if status != http.StatusForbidden {
				t.Fatalf("create answered %d %s; want 403 (HA004)", status, body)
			}
			requireContains(t, "create response", body, "HA004", `"sleep"`)
			requireDecisionOn(t, offset, ImageCurl, false, "HA004", "")
		})
	}
}

// TestBodyTopLevelHostConfigIsReadAsTheDaemonReadsIt: dockerd up to 26.x
// applies HostConfig fields written at the top level of the body (27 and
// later ignore them). The plugin asks the daemon's API version and reads
// the body the same way: on dockerd 20.10 a top-level Memory is the
// sidecar's memory limit, so HA008 does not warn, and the container gets
// the limit and the network mode.
func TestBodyTopLevelHostConfigIsReadAsTheDaemonReadsIt(t *testing.T) {
	name := "e2e-toplevel-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	offset := suite.Plugin.LogSize()
	status, body := curlCreate(t, name, `{"Image":"`+ImageCurlDev+`","Entrypoint":["sleep","infinity"],
		"Healthcheck":{"Test":["CMD","curl","-f","http://app:3000/"]},"NetworkMode":"none","Memory":33554432}`)
	if status != http.StatusCreated {
		t.Fatalf("create answered %d %s; want 201: dockerd 20.10 accepts this body", status, body)
	}
	d := requireDecision(t, offset, true, "")
	if d.HasWarning("HA008") {
		t.Errorf("the plugin ignored the top-level Memory that dockerd 20.10 applies: %s", d.Line)
	}
	ins := mustDocker(t, 30*time.Second, "inspect", "-f", "{{.HostConfig.NetworkMode}} {{.HostConfig.Memory}}", name)
	if got := strings.TrimSpace(ins.Out); got != "none 33554432" {
		t.Errorf("dockerd created the container with %q, want the top-level fields applied", got)
	}
}

// TestBodyCredentialsAreRedacted: a healthcheck with credentials in it,
// denied on the hardened node stand-in (no curl: HA002; no shell: HA001).
// Neither the 403 message, nor the plugin's log, nor dockerd's log carries
// them.
func TestBodyCredentialsAreRedacted(t *testing.T) {
	secrets := []string{"s3cret", "abc.def"}
	for _, tc := range []struct{ name, image, rule, test string }{
		{"exec form", ImageNodeDev, "HA002",
			`["CMD","curl","-u","admin:s3cret","-H","Authorization: Bearer abc.def","http://admin:s3cret@localhost:3000/"]`},
		{"shell form", ImageNode, "HA001",
			`["CMD-SHELL","curl -u admin:s3cret -H 'Authorization: Bearer abc.def' http://admin:s3cret@localhost:3000/"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "e2e-secret-" + randomHex(3)
			t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
			offset := suite.Plugin.LogSize()
			daemonOffset := fileSize(suite.Daemon.LogPath)
			status, body := curlCreate(t, name, `{"Image":"`+tc.image+`","Healthcheck":{"Test":`+tc.test+`}}`)
			if status != http.StatusForbidden {
				t.Fatalf("create answered %d %s; want 403 (%s)", status, body, tc.rule)
			}
			requireContains(t, "create response", body, tc.rule, "<redacted>")
			requireDecision(t, offset, false, tc.rule)
			// dockerd writes its log line of the refused call asynchronously.
			time.Sleep(500 * time.Millisecond)
			for what, text := range map[string]string{
				"the 403 message":  body,
				"the plugin's log": readFrom(t, suite.Plugin.LogPath, offset),
				"dockerd's log":    readFrom(t, suite.Daemon.LogPath, daemonOffset),
			} {
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("%s carries %q:\n%s", what, s, text)
					}
				}
			}
		})
	}
}

// TestBodyOverDockerdLimit: dockerd 20.10 passes an authorization plugin
// only bodies under 1 MiB; a larger one reaches the plugin empty while the
// daemon would run the create whole. The plugin denies it (HA091) and says
// that the body was too large, with its size from Content-Length.
func TestBodyOverDockerdLimit(t *testing.T) {
	name := "e2e-huge-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	pad := strings.Repeat("x", 1<<20+(1<<19))
	body := `{"Image":"` + ImageBusyboxDev + `","Cmd":["sleep","1"],"Labels":{"pad":"` + pad + `"}}`
	offset := suite.Plugin.LogSize()
	status, resp := curlCreate(t, name, body)
	if status != http.StatusForbidden {
		t.Fatalf("create answered %d %.2000s; want 403 (HA091)", status, resp)
	}
	requireContains(t, "create response", resp, "HA091", strconv.Itoa(len(body))+" bytes", "1 MiB")
	requireDecision(t, offset, false, "HA091")
	if ins := docker(t, 30*time.Second, "inspect", "--type", "container", name); ins.OK() {
		t.Fatalf("the denied container %s exists", name)
	}
}

// TestBodyChunked: dockerd passes an authorization plugin a chunked body
// only under 1 MiB, and only with the CVE-2024-41110 fix (Debian's 20.10.24
// has it backported); it runs the create either way. A small chunked
// create is decided on its body where the daemon passes it; a large one
// reaches the plugin empty and is denied (HA091), saying why.
func TestBodyChunked(t *testing.T) {
	t.Run("small", func(t *testing.T) {
		name := "e2e-chunked-" + randomHex(3)
		t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
		offset := suite.Plugin.LogSize()
		status, resp := curlCreate(t, name, `{"Image":"`+ImageBusyboxDev+`","Cmd":["sleep","1"]}`, "Transfer-Encoding: chunked")
		switch status {
		case http.StatusCreated:
			// The body reached the plugin: the decision names its image.
			requireDecisionOn(t, offset, ImageBusyboxDev, true, "", "")
		case http.StatusForbidden:
			// A daemon without the fix: no body, denied.
			requireContains(t, "create response", resp, "HA091", "chunked")
			requireDecision(t, offset, false, "HA091")
		default:
			t.Fatalf("create answered %d %s; want 201, or 403 (HA091)", status, resp)
		}
	})
	t.Run("over 1 MiB", func(t *testing.T) {
		name := "e2e-chunked-huge-" + randomHex(3)
		t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
		pad := strings.Repeat("x", 1<<20+(1<<19))
		offset := suite.Plugin.LogSize()
		status, resp := curlCreate(t, name, `{"Image":"`+ImageBusyboxDev+`","Cmd":["sleep","1"],"Labels":{"pad":"`+pad+`"}}`,
			"Transfer-Encoding: chunked")
		if status != http.StatusForbidden {
			t.Fatalf("create answered %d %.2000s; want 403 (HA091)", status, resp)
		}
		requireContains(t, "create response", resp, "HA091", "chunked", "under 1 MiB")
		requireDecision(t, offset, false, "HA091")
		if ins := docker(t, 30*time.Second, "inspect", "--type", "container", name); ins.OK() {
			t.Fatalf("the denied container %s exists", name)
		}
	})
}

// fileSize is the length of the file at path, 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns what the file at path holds after offset.
func readFrom(t *testing.T, path string, offset int64) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if offset > int64(len(data)) {
		return ""
	}
	return string(data[offset:])
}

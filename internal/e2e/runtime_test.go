//go:build e2e

package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The container as it will run, not as the image alone says: the PATH the
// process really gets, its working directory, the entrypoint dockerd
// really keeps and what the request mounts over the image's files. Each
// scenario checks the plugin's decision against what dockerd and runc then
// do.

// runtimeHealthcheck is an exec-form healthcheck of program prog probing the
// test app, checked every second.
func runtimeHealthcheck(prog ...string) string {
	return `"Healthcheck":{"Test":["CMD","` + strings.Join(prog, `","`) + `"],"Interval":1000000000,"Retries":3}`
}

// requireRuntimeDenied sends a raw create and wants the plugin's 403 with
// rule, decided on the image's index.
func requireRuntimeDenied(t *testing.T, image, rule, body string) {
	t.Helper()
	name := "e2e-rtdenied-" + randomHex(3)
	offset := suite.Plugin.LogSize()
	status, answer, err := createContainerAPI(name, body)
	t.Logf("POST /v1.41/containers/create?name=%s %s -> %d %s (%v)", name, body, status, answer, err)
	if err != nil {
		t.Fatal(err)
	}
	if status == http.StatusCreated {
		docker(t, 30*time.Second, "rm", "-f", name)
		t.Fatalf("create answered %d %s; the plugin should have denied it with %s", status, answer, rule)
	}
	if status != http.StatusForbidden {
		t.Fatalf("create answered %d %s, want 403 from the plugin", status, answer)
	}
	requireContains(t, "create answer", answer, "authorization denied by plugin "+suite.PluginName, rule+": ")
	requireDecisionOn(t, offset, image, false, rule, "index")
}

// requireRuntimeHealthy sends a raw create, wants it allowed on the image's
// index, starts the container and waits for it to turn healthy: the
// healthcheck really runs. It returns the container's name.
func requireRuntimeHealthy(t *testing.T, image, body string) string {
	t.Helper()
	name := "e2e-rtallowed-" + randomHex(3)
	offset := suite.Plugin.LogSize()
	status, answer, err := createContainerAPI(name, body)
	t.Logf("POST /v1.41/containers/create?name=%s %s -> %d %s (%v)", name, body, status, answer, err)
	if err != nil {
		t.Fatal(err)
	}
	if status == http.StatusCreated {
		t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	}
	if status != http.StatusCreated {
		t.Fatalf("create answered %d %s, want 201", status, answer)
	}
	requireDecisionOn(t, offset, image, true, "", "index")
	mustDocker(t, 60*time.Second, "start", name)
	requireHealthy(t, name, 60*time.Second)
	return name
}

// TestRuntimeUnsetPath: `Env: ["PATH"]` unsets PATH in the container and in
// its health exec, so curl (in /opt/tools/bin, the image's PATH) is no
// longer found: HA002. Named by its path, curl still runs: the create is
// allowed and healthy, and an exec of plain curl in it fails as the plugin
// said.
func TestRuntimeUnsetPath(t *testing.T) {
	t.Run("curl by name is denied", func(t *testing.T) {
		requireRuntimeDenied(t, ImageAcmeTools, "HA002",
			`{"Image":"`+ImageAcmeTools+`","Env":["PATH"],`+runtimeHealthcheck("curl", "-fsS", "http://localhost:3000/")+`}`)
	})
	t.Run("curl by path runs, curl by name does not", func(t *testing.T) {
		name := requireRuntimeHealthy(t, ImageAcmeTools,
			`{"Image":"`+ImageAcmeTools+`","Env":["PATH"],`+runtimeHealthcheck("/opt/tools/bin/curl", "-fsS", "http://localhost:3000/")+`}`)
		res := docker(t, 30*time.Second, "exec", name, "curl", "--version")
		if res.OK() || !strings.Contains(res.Out, "executable file not found") {
			t.Fatalf("curl by name ran, or failed for another reason, with PATH unset:\n%s", res)
		}
	})
}

// TestRuntimeWorkingDirectory: a program with a "/" is found from the
// working directory. From /bin, ./busybox is /bin/busybox: allowed and
// healthy (the old lookup from "/" denied it). From /tmp, bin/busybox is
// /tmp/bin/busybox, which does not exist: HA002 (the old lookup allowed it
// as /bin/busybox).
func TestRuntimeWorkingDirectory(t *testing.T) {
	t.Run("./busybox from /bin", func(t *testing.T) {
		requireRuntimeHealthy(t, ImageAcmeBase,
			`{"Image":"`+ImageAcmeBase+`","WorkingDir":"/bin",`+runtimeHealthcheck("./busybox", "true")+`}`)
	})
	t.Run("bin/busybox from /tmp", func(t *testing.T) {
		requireRuntimeDenied(t, ImageAcmeBase, "HA002",
			`{"Image":"`+ImageAcmeBase+`","WorkingDir":"/tmp",`+runtimeHealthcheck("bin/busybox", "true")+`}`)
	})
}

// TestRuntimeEmptyEntrypoint: `--entrypoint ""` (Entrypoint [""]) removes
// the runtime curl image's entrypoint, so the sidecar runs `sleep
// infinity`, which the image lacks: HA004.
func TestRuntimeEmptyEntrypoint(t *testing.T) {
	requireRuntimeDenied(t, ImageCurl, "HA004",
		`{"Image":"`+ImageCurl+`","Entrypoint":[""],"Cmd":["sleep","infinity"],`+runtimeHealthcheck("curl", "-fsS", "http://localhost:3000/")+`}`)
}

// TestRuntimeMounts: a tmpfs over the directory of curl hides it (HA002);
// a bind mount over a PATH directory the image leaves empty may bring the
// program, so the plugin does not deny on the image's files, and here it
// does bring curl: healthy.
func TestRuntimeMounts(t *testing.T) {
	t.Run("tmpfs hides curl", func(t *testing.T) {
		requireRuntimeDenied(t, ImageAcmeTools, "HA002",
			`{"Image":"`+ImageAcmeTools+`","HostConfig":{"Tmpfs":{"/opt/tools/bin":""}},`+runtimeHealthcheck("curl", "-fsS", "http://localhost:3000/")+`}`)
	})
	t.Run("bind brings curl", func(t *testing.T) {
		dir := t.TempDir()
		bin, err := os.ReadFile("/usr/bin/curl")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "curl"), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		requireRuntimeHealthy(t, ImageAcmeTools,
			`{"Image":"`+ImageAcmeTools+`","Env":["PATH=/usr/local/bin"],"HostConfig":{"Binds":["`+dir+`:/usr/local/bin:ro"]},`+
				runtimeHealthcheck("curl", "-fsS", "http://localhost:3000/")+`}`)
	})
}

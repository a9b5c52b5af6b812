//go:build e2e

package e2e

import (
	"archive/tar"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The image-index scenarios: images no catalog knows (acme/...), so every
// decision below rests on the plugin's index of the image's own files, and
// the decision log must say so (image_source "index").

// TestIndexImagesAreWhatTheyClaim checks the fixtures of the image-index
// scenarios in the daemon's own export and by running them, so a scenario
// failure cannot come from an image that is not what its scenario says.
func TestIndexImagesAreWhatTheyClaim(t *testing.T) {
	t.Run("api has no shell and no curl", func(t *testing.T) {
		requireMissing(t, ImageAcmeAPI, "/bin/sh", "-c", "true")
		requireMissing(t, ImageAcmeAPI, "curl", "--version")
	})

	t.Run("web inherits an exec-form curl healthcheck it cannot run", func(t *testing.T) {
		hc := mustDocker(t, 30*time.Second, "inspect", "-f", "{{json .Config.Healthcheck}}", ImageAcmeWeb)
		requireContains(t, ImageAcmeWeb+" healthcheck", hc.Out, `"Test":["CMD","curl","-f","http://localhost:3000/"]`)
		// Its own healthcheck is denied (HA002): run it without one.
		noHC := []string{"--no-healthcheck"}
		requireMissingRun(t, noHC, ImageAcmeWeb, "curl", "--version")
		requireMissingRun(t, noHC, ImageAcmeWeb, "/bin/sh", "-c", "true")
	})

	t.Run("merged-usr reaches the shell through two links", func(t *testing.T) {
		layers := exportedLayers(t, ImageAcmeMergedUsr)
		if len(layers) != 1 {
			t.Fatalf("%s has %d layers, want 1", ImageAcmeMergedUsr, len(layers))
		}
		l := layers[0]
		requireEntry(t, l, "bin", tar.TypeSymlink, "usr/bin")
		requireEntry(t, l, "usr/bin/sh", tar.TypeSymlink, "dash")
		requireEntry(t, l, "usr/bin/dash", tar.TypeReg, "")
		if e, ok := l["bin/sh"]; ok {
			t.Fatalf("%s has a bin/sh entry of its own (%s); /bin/sh must exist only through the links", ImageAcmeMergedUsr, e)
		}
		// The kernel follows both links; busybox, as "dash", runs as sh
		// because argv[0] stays /bin/sh.
		sh := mustDocker(t, 60*time.Second, "run", "--rm", "--entrypoint", "/bin/sh", ImageAcmeMergedUsr,
			"-c", `echo "merged-usr shell $0 ok"`)
		requireContains(t, ImageAcmeMergedUsr+" /bin/sh", sh.Out, "merged-usr shell /bin/sh ok")
	})

	t.Run("tools has curl only in /opt/tools/bin, on its PATH", func(t *testing.T) {
		v := mustDocker(t, 60*time.Second, "run", "--rm", "--entrypoint", "curl", ImageAcmeTools, "--version")
		requireContains(t, ImageAcmeTools+" curl --version", v.Out, "curl ")
		requireMissing(t, ImageAcmeTools, "/usr/bin/curl", "--version")
		requireMissing(t, ImageAcmeTools, "/bin/sh", "-c", "true")
		// With another PATH, the same name is not found: the scenario's
		// second case relies on it.
		res := docker(t, 60*time.Second, "run", "--rm", "-e", "PATH=/usr/local/bin:/usr/bin:/bin",
			"--entrypoint", "curl", ImageAcmeTools, "--version")
		if res.OK() || !strings.Contains(res.Out, "executable file not found") {
			t.Fatalf("curl ran, or failed for another reason, with PATH=/usr/local/bin:/usr/bin:/bin:\n%s", res)
		}
	})

	t.Run("whiteout layer deletes /bin/sh", func(t *testing.T) {
		layers := exportedLayers(t, ImageAcmeWhiteout)
		if len(layers) != 2 {
			t.Fatalf("%s has %d layers, want 2", ImageAcmeWhiteout, len(layers))
		}
		requireEntry(t, layers[0], "bin/sh", tar.TypeSymlink, "busybox")
		requireEntry(t, layers[1], "bin/.wh.sh", tar.TypeReg, "")
		requireMissing(t, ImageAcmeWhiteout, "/bin/sh", "-c", "true")
		// Only the link went: busybox itself is still there.
		bb := mustDocker(t, 60*time.Second, "run", "--rm", "--entrypoint", "/bin/busybox", ImageAcmeWhiteout, "echo", "busybox-still-here")
		requireContains(t, ImageAcmeWhiteout+" busybox", bb.Out, "busybox-still-here")
	})

	t.Run("opaque layer replaces /bin", func(t *testing.T) {
		layers := exportedLayers(t, ImageAcmeOpaque)
		if len(layers) != 2 {
			t.Fatalf("%s has %d layers, want 2", ImageAcmeOpaque, len(layers))
		}
		requireEntry(t, layers[0], "bin/sh", tar.TypeSymlink, "busybox")
		requireEntry(t, layers[1], "bin/.wh..wh..opq", tar.TypeReg, "")
		requireEntry(t, layers[1], "bin/app", tar.TypeReg, "")
		for name, e := range layers[1] {
			if strings.HasPrefix(name, "bin/.wh.") && name != "bin/.wh..wh..opq" {
				t.Fatalf("the top layer of %s deletes %s one by one; want only the opaque marker:\n%s", ImageAcmeOpaque, e, layers[1])
			}
		}
		requireMissing(t, ImageAcmeOpaque, "/bin/sh", "-c", "true")
		requireMissing(t, ImageAcmeOpaque, "/bin/busybox", "true")
	})
}

// TestIndexNoShellInUnknownImageIsDenied: an image no catalog knows, with
// the app only. A CMD-SHELL healthcheck, even one that needs no program,
// cannot run without /bin/sh: HA001, decided from the image's files.
func TestIndexNoShellInUnknownImageIsDenied(t *testing.T) {
	requireDeniedRun(t, ImageAcmeAPI, "HA001", "--health-cmd", "true")
}

// TestIndexMergedUsrShellIsAllowed: /bin/sh exists only as
// /bin -> usr/bin plus /usr/bin/sh -> dash. The index must follow both links
// as the kernel does; the healthcheck is allowed and really passes.
func TestIndexMergedUsrShellIsAllowed(t *testing.T) {
	name := "e2e-mergedusr-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	offset := suite.Plugin.LogSize()
	// sh is looked up in PATH too: /usr/bin/sh, the same link.
	mustDocker(t, 60*time.Second, "run", "-d", "--name", name,
		"--health-cmd", "sh -c 'exit 0'", "--health-interval", "1s", "--health-retries", "3",
		ImageAcmeMergedUsr)
	requireDecisionOn(t, offset, ImageAcmeMergedUsr, true, "", "index")
	requireHealthy(t, name, 60*time.Second)
}

// TestIndexWhiteoutsDeleteTheShell: the lower layer has /bin/sh, the upper
// one deletes it, by a whiteout of the file or by an opaque /bin. An index
// that ignores either would let the healthcheck through.
func TestIndexWhiteoutsDeleteTheShell(t *testing.T) {
	for _, tc := range []struct{ name, image string }{
		{"whiteout", ImageAcmeWhiteout},
		{"opaque directory", ImageAcmeOpaque},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireDeniedRun(t, tc.image, "HA001", "--health-cmd", "true")
		})
	}
}

// TestIndexInheritedHealthcheckIsDenied: the create asks for no healthcheck,
// but the image's own HEALTHCHECK runs curl, which the image lacks: HA002.
func TestIndexInheritedHealthcheckIsDenied(t *testing.T) {
	res := requireDeniedRun(t, ImageAcmeWeb, "HA002")
	requireContains(t, "docker run output", res.Out, "inherited from the image", `"curl"`)
}

// TestIndexExecHealthcheckUsesContainerPath: an exec-form healthcheck (only
// the Engine API or compose can send one) runs curl, which the image has in
// /opt/tools/bin only. It is found through the container's PATH: allowed,
// and healthy. The same create with a PATH that misses /opt/tools/bin is
// HA002, as the probe would then fail.
func TestIndexExecHealthcheckUsesContainerPath(t *testing.T) {
	healthcheck := `"Healthcheck":{"Test":["CMD","curl","-fsS","http://localhost:3000/"],"Interval":1000000000,"Retries":3}`

	t.Run("image PATH", func(t *testing.T) {
		name := "e2e-toolspath-" + randomHex(3)
		t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
		offset := suite.Plugin.LogSize()
		status, body, err := createContainerAPI(name, `{"Image":"`+ImageAcmeTools+`",`+healthcheck+`}`)
		t.Logf("POST /v1.41/containers/create?name=%s -> %d %s (%v)", name, status, body, err)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("create answered %d %s (%v), want 201", status, body, err)
		}
		requireDecisionOn(t, offset, ImageAcmeTools, true, "", "index")
		mustDocker(t, 60*time.Second, "start", name)
		requireHealthy(t, name, 60*time.Second)
	})

	t.Run("PATH without /opt/tools/bin", func(t *testing.T) {
		name := "e2e-toolsnopath-" + randomHex(3)
		offset := suite.Plugin.LogSize()
		status, body, err := createContainerAPI(name,
			`{"Image":"`+ImageAcmeTools+`","Env":["PATH=/usr/local/bin:/usr/bin:/bin"],`+healthcheck+`}`)
		t.Logf("POST /v1.41/containers/create?name=%s -> %d %s (%v)", name, status, body, err)
		if err != nil {
			t.Fatal(err)
		}
		if status == http.StatusCreated {
			docker(t, 30*time.Second, "rm", "-f", name)
			t.Fatalf("create answered %d %s; the plugin should have denied it", status, body)
		}
		if status != http.StatusForbidden {
			t.Fatalf("create answered %d %s, want 403 from the plugin", status, body)
		}
		var answer struct{ Message string }
		if err := json.Unmarshal([]byte(body), &answer); err != nil {
			t.Fatalf("create answer is not the daemon's JSON error (%v): %s", err, body)
		}
		requireContains(t, "create answer", answer.Message,
			"authorization denied by plugin "+suite.PluginName, `HA002: container "`+name+`" (image `+ImageAcmeTools+`): the healthcheck runs "curl"`)
		requireDecisionOn(t, offset, ImageAcmeTools, false, "HA002", "index")
	})
}

// imageReport is the part of `authz image --format json` the suite checks.
type imageReport struct {
	Ref    string
	ID     string
	Source string
	Shell  struct {
		Program string
		Found   *bool
	}
	Lookups map[string]struct {
		Found bool
		Path  string
	}
}

// TestIndexImageCommand: `authz image` prints what the index found, for a
// person (or a script) to see what the plugin decides on: no shell in the
// app-only image, the shell of the merged-/usr image through its links.
func TestIndexImageCommand(t *testing.T) {
	for _, tc := range []struct {
		image string
		shell bool
	}{
		{ImageAcmeAPI, false},
		{ImageAcmeMergedUsr, true},
	} {
		t.Run(tc.image, func(t *testing.T) {
			id := strings.TrimSpace(mustDocker(t, 30*time.Second, "inspect", "-f", "{{.Id}}", tc.image).Out)
			res := authzCLI(t, 60*time.Second, "image", tc.image, "--docker-host", suite.Daemon.Host(), "--format", "json")
			if !res.OK() {
				t.Fatalf("authz image failed:\n%s", res)
			}
			var r imageReport
			dec := json.NewDecoder(strings.NewReader(res.Out))
			if err := dec.Decode(&r); err != nil || dec.More() {
				t.Fatalf("authz image --format json printed no single JSON object (%v):\n%s", err, res.Out)
			}
			if r.Ref != tc.image || r.ID != id || r.Source != "index" {
				t.Errorf("ref %q, id %q, source %q; want %q, %q, \"index\":\n%s", r.Ref, r.ID, r.Source, tc.image, id, res.Out)
			}
			if r.Shell.Program != "/bin/sh" || r.Shell.Found == nil || *r.Shell.Found != tc.shell {
				t.Errorf("shell is not /bin/sh with found %v:\n%s", tc.shell, res.Out)
			}
			// The entrypoint is looked up too, and it is there.
			if app := r.Lookups["/app"]; !app.Found || app.Path != "/app" {
				t.Errorf("the lookup of the entrypoint /app is %+v, want found at /app:\n%s", app, res.Out)
			}
		})
	}
}

// requireDeniedRun runs `docker run -d` of image with the given flags and
// fails the test unless the plugin denied it with rule, from its index of
// the image, and no container was made. It returns the CLI's result.
func requireDeniedRun(t *testing.T, image, rule string, flags ...string) Result {
	t.Helper()
	name := "e2e-denied-" + randomHex(3)
	offset := suite.Plugin.LogSize()
	args := append(append([]string{"run", "-d", "--name", name}, flags...), image)
	res := docker(t, 60*time.Second, args...)
	if res.OK() {
		docker(t, 30*time.Second, "rm", "-f", name)
		t.Fatalf("docker run succeeded; the plugin should have denied it with %s:\n%s", rule, res)
	}
	requireContains(t, "docker run output", res.Out, rule, "authorization denied by plugin "+suite.PluginName)
	requireDecisionOn(t, offset, image, false, rule, "index")
	if ins := docker(t, 30*time.Second, "inspect", "--type", "container", name); ins.OK() {
		t.Fatalf("the denied container %s exists", name)
	}
	return res
}

// requireHealthy waits until the container's health status settles and
// fails the test unless it is healthy.
func requireHealthy(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	var status string
	ok := waitFor(timeout, time.Second, func() bool {
		res := suite.Docker.Run(20*time.Second, "docker", "inspect", "-f", "{{.State.Health.Status}}", name)
		status = strings.TrimSpace(res.Out)
		return status == "healthy" || status == "unhealthy"
	})
	if !ok || status != "healthy" {
		health := docker(t, 20*time.Second, "inspect", "-f", "{{json .State.Health}}", name)
		t.Fatalf("container %s is %q, want healthy; health log:\n%s", name, status, health.Out)
	}
}

// exportedLayers is ExportedLayers for a test.
func exportedLayers(t *testing.T, image string) []Layer {
	t.Helper()
	layers, err := ExportedLayers(suite.Docker, suite.Dir, image)
	if err != nil {
		t.Fatal(err)
	}
	return layers
}

// requireEntry fails the test unless layer l has name of type typ, with
// link as its target when link is not "".
func requireEntry(t *testing.T, l Layer, name string, typ byte, link string) {
	t.Helper()
	e, ok := l[name]
	if !ok || e.Type != typ || (link != "" && e.Link != link) {
		want := LayerEntry{Name: name, Type: typ, Link: link}
		t.Fatalf("the layer has no %s (type %q); its entries:\n%s", want, typ, l)
	}
}

// authzCLI runs the suite's authz binary with args.
func authzCLI(t *testing.T, timeout time.Duration, args ...string) Result {
	t.Helper()
	res := Runner{}.Run(timeout, suite.Plugin.Bin, args...)
	t.Logf("%s\n", res)
	return res
}

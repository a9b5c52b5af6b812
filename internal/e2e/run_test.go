//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestRunShellHealthcheckIsDenied: `docker run --health-cmd` always sends
// ["CMD-SHELL", ...]. On the hardened runtime image there is no /bin/sh
// (HA001); on the -dev image the shell is there but curl is not (HA002).
func TestRunShellHealthcheckIsDenied(t *testing.T) {
	for _, tc := range []struct{ image, rule string }{
		{ImageNode, "HA001"},
		{ImageNodeDev, "HA002"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			name := "e2e-denied-" + randomHex(3)
			offset := suite.Plugin.LogSize()
			res := docker(t, 60*time.Second, "run", "-d", "--name", name,
				"--health-cmd", "curl -f http://localhost:3000/", tc.image)
			if res.OK() {
				docker(t, 30*time.Second, "rm", "-f", name)
				t.Fatalf("docker run succeeded; the plugin should have denied it:\n%s", res)
			}
			requireContains(t, "docker run output", res.Out, tc.rule, "authorization denied by plugin "+suite.PluginName,
				"--network container:"+name)
			requireDecision(t, offset, false, tc.rule)

			if ins := docker(t, 30*time.Second, "inspect", name); ins.OK() {
				t.Fatalf("the denied container %s exists", name)
			}
		})
	}
}

// TestRunShellHealthcheckOnDevImageIsAllowed: the same kind of healthcheck on
// an image that has a shell and the probe program is fine, and it works: the
// container turns healthy.
func TestRunShellHealthcheckOnDevImageIsAllowed(t *testing.T) {
	name := "e2e-allowed-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	offset := suite.Plugin.LogSize()
	// busybox httpd stands in for the app so the probe has a page to get.
	mustDocker(t, 60*time.Second, "run", "-d", "--name", name,
		"--health-cmd", "wget -q -O- http://localhost:3000/ || exit 1",
		"--health-interval", "1s", "--health-retries", "3",
		ImageBusyboxDev, "sh", "-c", "echo ok >/index.html && exec httpd -f -p 3000 -h /")
	requireDecision(t, offset, true, "")

	var status string
	ok := waitFor(60*time.Second, time.Second, func() bool {
		res := suite.Docker.Run(20*time.Second, "docker", "inspect", "-f", "{{.State.Health.Status}}", name)
		status = strings.TrimSpace(res.Out)
		return status == "healthy" || status == "unhealthy"
	})
	if !ok || status != "healthy" {
		health := docker(t, 20*time.Second, "inspect", "-f", "{{json .State.Health}}", name)
		t.Fatalf("container is %q, want healthy; health log:\n%s", status, health.Out)
	}
}

// TestPlainCommandsPass: calls that are not container creates, and creates
// without a healthcheck, go through the plugin untouched.
func TestPlainCommandsPass(t *testing.T) {
	ver := mustDocker(t, 30*time.Second, "version", "--format", "{{.Server.Version}}")
	if strings.TrimSpace(ver.Out) == "" {
		t.Fatalf("no server version:\n%s", ver)
	}
	mustDocker(t, 30*time.Second, "ps", "-a")
	imgs := mustDocker(t, 30*time.Second, "images", "--format", "{{.Repository}}:{{.Tag}}")
	for _, want := range []string{ImageNode, ImageNodeDev, ImageCurlDev, ImageCurl, ImageBusyboxDev, ImageBusybox} {
		requireContains(t, "docker images", imgs.Out, want)
	}
	run := mustDocker(t, 60*time.Second, "run", "--rm", ImageBusyboxDev, "echo", "hello from e2e")
	requireContains(t, "docker run output", run.Out, "hello from e2e")
	mustDocker(t, 30*time.Second, "info")
}

// TestImagesAreWhatTheyClaim checks the suite's own fixtures, so a scenario
// failure cannot come from a broken image: the app image has no shell, its
// -dev variant has one but no curl, the curl images run curl (curl --help
// when given nothing else), only the -dev one has sleep, both busybox
// images have a shell.
func TestImagesAreWhatTheyClaim(t *testing.T) {
	requireMissing(t, ImageNode, "/bin/sh", "-c", "true")
	devSh := mustDocker(t, 60*time.Second, "run", "--rm", "--entrypoint", "/bin/sh", ImageNodeDev, "-c", "echo dev-shell-ok")
	requireContains(t, ImageNodeDev+" sh", devSh.Out, "dev-shell-ok")
	requireMissing(t, ImageNodeDev, "curl", "--version")
	for _, img := range []string{ImageCurl, ImageCurlDev} {
		v := mustDocker(t, 60*time.Second, "run", "--rm", img, "--version")
		requireContains(t, img+" curl --version", v.Out, "curl ")
		// As the real image: with no entrypoint or command of its own, the
		// container runs curl --help, prints it and exits.
		h := mustDocker(t, 60*time.Second, "run", "--rm", img)
		requireContains(t, img+" without arguments", h.Out, "Usage: curl")
	}
	mustDocker(t, 60*time.Second, "run", "--rm", "--entrypoint", "sleep", ImageCurlDev, "0")
	requireMissing(t, ImageCurl, "sleep", "0")
	requireMissing(t, ImageCurlDev, "/bin/sh", "-c", "true")
	for _, img := range []string{ImageBusyboxDev, ImageBusybox} {
		sh := mustDocker(t, 60*time.Second, "run", "--rm", img, "sh", "-c", "echo shell-ok")
		requireContains(t, img+" sh", sh.Out, "shell-ok")
	}
}

// requireMissing fails the test unless running program in image fails
// because the image lacks it (and not, say, because the plugin denied it).
func requireMissing(t *testing.T, image, program string, args ...string) {
	t.Helper()
	requireMissingRun(t, nil, image, program, args...)
}

// requireMissingRun is requireMissing with more `docker run` flags, such as
// --no-healthcheck for an image whose own healthcheck the plugin denies.
func requireMissingRun(t *testing.T, flags []string, image, program string, args ...string) {
	t.Helper()
	run := append(append([]string{"run", "--rm"}, flags...), "--entrypoint", program, image)
	res := docker(t, 60*time.Second, append(run, args...)...)
	if res.OK() {
		t.Errorf("%s has %s:\n%s", image, program, res)
		return
	}
	if !strings.Contains(res.Out, "no such file or directory") && !strings.Contains(res.Out, "executable file not found") {
		t.Errorf("running %s in %s failed, but not for lack of it:\n%s", program, image, res)
	}
}

//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// TestShellHealthcheckReadThroughWrappers: the healthcheck's shell command
// is parsed as /bin/sh reads it, so a missing curl behind `timeout 5` and
// before a comment with an apostrophe (which a quote-counting reader took
// for an open quote, hiding every command) is still HA002.
func TestShellHealthcheckReadThroughWrappers(t *testing.T) {
	res := requireDeniedRun(t, ImageNodeDev, "HA002",
		"--health-cmd", `timeout 5 curl -f http://localhost:3000/ # don't fail`)
	requireContains(t, "docker run output", res.Out, `runs "curl", which this image does not contain`)
}

// TestShellHealthcheckCommandVIsAllowed: `command -v wget` only asks
// whether wget exists; it runs no program "-v". On the busybox -dev image,
// which has wget, the healthcheck is allowed and works.
func TestShellHealthcheckCommandVIsAllowed(t *testing.T) {
	name := "e2e-cmdv-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	offset := suite.Plugin.LogSize()
	mustDocker(t, 60*time.Second, "run", "-d", "--name", name,
		"--health-cmd", "command -v wget && wget -q -O- http://localhost:3000/",
		"--health-interval", "1s", "--health-retries", "3",
		ImageBusyboxDev, "sh", "-c", "echo ok >/index.html && exec httpd -f -p 3000 -h /")
	requireDecision(t, offset, true, "")
	requireHealthy(t, name, 60*time.Second)
}

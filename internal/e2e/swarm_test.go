//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSwarm makes the private daemon a single-node swarm manager and checks
// that the plugin decides swarm service requests like container creates:
// POST /services/create and POST /services/{id}/update carry the task's
// ContainerSpec (image and healthcheck), and `docker stack deploy` sends
// the same creates.
//
// Swarm state lives in the daemon's data root, which the suite's teardown
// removes with the rest of its directory, so a run that dies mid-test leaves
// no swarm behind; the cleanup here leaves the swarm all the same, so the
// scenarios that run after it see a plain daemon again.
func TestSwarm(t *testing.T) {
	swarmInit(t)

	t.Run("ServiceCreateShellHealthcheckOnShelllessImageIsDenied", func(t *testing.T) {
		name := "e2e-svc-" + randomHex(3)
		removeServiceAtCleanup(t, name)
		offset := suite.Plugin.LogSize()
		res := docker(t, 90*time.Second, "service", "create", "--detach", "--no-resolve-image",
			"--name", name, "--health-cmd", "curl -f http://localhost:8080/", ImageNode)
		if res.OK() {
			t.Errorf("docker service create succeeded; the plugin should have denied it:\n%s", res)
		} else {
			requireContains(t, "docker service create output", res.Out,
				"authorization denied by plugin "+suite.PluginName, "HA001")
		}
		requireNoService(t, name)
		// The service's image is decided from its own files, as a create.
		d := requireDecisionOn(t, offset, ImageNode, false, "HA001", "index")
		if d.Field("action") != "service.create" {
			t.Errorf("the decision is not the service create: %s", d.Line)
		}
	})

	// A working service: busybox httpd stands in for the app and the
	// shell healthcheck probes it with wget, which the image has.
	// The next scenario updates it, so it is removed when TestSwarm ends.
	okName := "e2e-svc-" + randomHex(3)
	removeServiceAtCleanup(t, okName)
	created := t.Run("ServiceCreateWorkingHealthcheckIsAllowed", func(t *testing.T) {
		offset := suite.Plugin.LogSize()
		mustDocker(t, 90*time.Second, "service", "create", "--detach", "--no-resolve-image",
			"--name", okName,
			"--health-cmd", "wget -q -O- http://localhost:3000/ || exit 1",
			"--health-interval", "1s", "--health-retries", "3",
			ImageBusyboxDev, "sh", "-c", "echo ok >/index.html && exec httpd -f -p 3000 -h /")
		// Once the plugin decides service creates, it logs an allow here;
		// until then it passes them through without a decision line.
		if ds, err := suite.Plugin.DecisionsSince(offset); err == nil {
			for _, d := range ds {
				if !d.Allow() {
					t.Errorf("the plugin denied a call of a working service: %s", d.Line)
				}
			}
		}

		var state string
		ok := waitFor(60*time.Second, time.Second, func() bool {
			res := suite.Docker.Run(20*time.Second, "docker", "service", "ps", "--no-trunc", "--format", "{{.CurrentState}}", okName)
			state = strings.TrimSpace(res.Out)
			return strings.HasPrefix(state, "Running")
		})
		if !ok {
			ps := docker(t, 20*time.Second, "service", "ps", "--no-trunc", okName)
			t.Fatalf("the service's task is not running after 60 s (state %q):\n%s", state, ps.Out)
		}
		var id, status string
		ok = waitFor(60*time.Second, time.Second, func() bool {
			res := suite.Docker.Run(20*time.Second, "docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+okName)
			id = strings.TrimSpace(res.Out)
			if id == "" || strings.Contains(id, "\n") {
				return false
			}
			res = suite.Docker.Run(20*time.Second, "docker", "inspect", "-f", "{{.State.Health.Status}}", id)
			status = strings.TrimSpace(res.Out)
			return status == "healthy" || status == "unhealthy"
		})
		if !ok || status != "healthy" {
			health := docker(t, 20*time.Second, "inspect", "-f", "{{json .State.Health}}", id)
			t.Fatalf("the service's container %q is %q, want healthy; health log:\n%s", id, status, health.Out)
		}
	})

	t.Run("ServiceUpdateToMissingProbeIsDenied", func(t *testing.T) {
		if !created {
			t.Fatal("the working service was not created (see the scenario before): nothing to update")
		}
		before := mustDocker(t, 30*time.Second, "service", "inspect", "-f", "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}", okName)
		offset := suite.Plugin.LogSize()
		res := docker(t, 90*time.Second, "service", "update", "--detach", "--no-resolve-image",
			"--health-cmd", "curl -f http://localhost:8080/", okName)
		if res.OK() {
			t.Errorf("docker service update succeeded; the plugin should have denied it (%s has no curl):\n%s", ImageBusyboxDev, res)
		} else {
			requireContains(t, "docker service update output", res.Out,
				"authorization denied by plugin "+suite.PluginName, "HA002")
		}
		after := mustDocker(t, 30*time.Second, "service", "inspect", "-f", "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}", okName)
		if strings.TrimSpace(after.Stdout) != strings.TrimSpace(before.Stdout) {
			t.Errorf("the service's healthcheck changed:\nbefore: %s\nafter:  %s", before.Stdout, after.Stdout)
		}
		requireDecision(t, offset, false, "HA002")
	})

	// The seed's problem file as a stack: `docker stack deploy` creates the
	// stack's network, then the app service, whose curl healthcheck on the
	// -dev image (no curl) must be denied, naming the service.
	t.Run("StackDeployProblemIsDenied", func(t *testing.T) {
		stack := "e2e-stack-" + randomHex(3)
		t.Cleanup(func() {
			docker(t, 60*time.Second, "stack", "rm", stack)
			waitSwarmContainersGone(t, "com.docker.stack.namespace="+stack)
		})
		offset := suite.Plugin.LogSize()
		res := docker(t, 2*time.Minute, "stack", "deploy", "--detach=true", "--resolve-image", "never",
			"-c", filepath.Join(suite.Root, problemCompose), stack)
		if res.OK() {
			t.Errorf("docker stack deploy succeeded; the plugin should have denied the app:\n%s", res)
		} else {
			requireContains(t, "docker stack deploy output", res.Out,
				"authorization denied by plugin "+suite.PluginName, "HA002", stack+"_app")
		}
		requireNoService(t, stack+"_app")
		requireDecision(t, offset, false, "HA002")
	})
}

// swarmInit makes the private daemon a single-node swarm manager for the
// test, and leaves the swarm at its cleanup. The swarm listens on loopback
// only, on a port of its own, so it neither clashes with nor is reachable
// from anything else on the machine.
func swarmInit(t *testing.T) {
	t.Helper()
	port := 20000 + rand.IntN(10000)
	suite.RecordSwarm()
	t.Cleanup(func() {
		if swarmLeave(t) {
			suite.ForgetSwarm()
		}
	})
	mustDocker(t, 2*time.Minute, "swarm", "init",
		"--advertise-addr", "127.0.0.1",
		"--listen-addr", fmt.Sprintf("127.0.0.1:%d", port))
	info := mustDocker(t, 30*time.Second, "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}")
	if got := strings.TrimSpace(info.Stdout); got != "active true" {
		t.Fatalf("after swarm init the node is %q, want an active manager", got)
	}
}

// swarmLeave removes every service, waits for their containers to go, and
// leaves the swarm. The host bridge docker_gwbridge, which dockerd creates
// when a task joins an overlay network, outlives the swarm: it is removed
// too, so no interface of the run stays behind. It reports whether both
// worked (if not, the suite's teardown tries again).
func swarmLeave(t *testing.T) bool {
	t.Helper()
	if ls := docker(t, 30*time.Second, "service", "ls", "-q"); ls.OK() {
		if ids := strings.Fields(ls.Stdout); len(ids) > 0 {
			docker(t, 60*time.Second, append([]string{"service", "rm"}, ids...)...)
		}
	}
	waitSwarmContainersGone(t, "com.docker.swarm.service.id")
	ok := true
	if res := docker(t, 60*time.Second, "swarm", "leave", "--force"); !res.OK() && !strings.Contains(res.Out, "not part of a swarm") {
		t.Errorf("docker swarm leave failed:\n%s", res)
		ok = false
	}
	info := docker(t, 30*time.Second, "info", "--format", "{{.Swarm.LocalNodeState}}")
	if got := strings.TrimSpace(info.Stdout); got != "inactive" {
		t.Errorf("after leaving the swarm the node is %q, want inactive", got)
		ok = false
	}
	if res := suite.Docker.Run(30*time.Second, "docker", "network", "inspect", "docker_gwbridge"); res.OK() {
		if rm := docker(t, 30*time.Second, "network", "rm", "docker_gwbridge"); !rm.OK() {
			t.Errorf("cannot remove docker_gwbridge:\n%s", rm)
			ok = false
		}
	}
	return ok
}

// waitSwarmContainersGone waits (bounded) until no container, running or
// not, carries the label filter: swarm removes a task's container some time
// after its service is gone.
func waitSwarmContainersGone(t *testing.T, label string) {
	t.Helper()
	var left string
	if !waitFor(60*time.Second, time.Second, func() bool {
		res := suite.Docker.Run(20*time.Second, "docker", "ps", "-a", "-q", "--filter", "label="+label)
		left = strings.TrimSpace(res.Out)
		return res.OK() && left == ""
	}) {
		t.Errorf("containers labelled %s are still there after 60 s: %s", label, left)
	}
}

// removeServiceAtCleanup removes the service name, if it exists, when the
// test ends: a denial that did not happen must not leave the service running
// for the next scenario.
func removeServiceAtCleanup(t *testing.T, name string) {
	t.Helper()
	t.Cleanup(func() {
		if res := suite.Docker.Run(30*time.Second, "docker", "service", "inspect", name); res.OK() {
			docker(t, 60*time.Second, "service", "rm", name)
			waitSwarmContainersGone(t, "com.docker.swarm.service.name="+name)
		}
	})
}

// requireNoService fails the test if `docker service ls` lists name.
func requireNoService(t *testing.T, name string) {
	t.Helper()
	ls := mustDocker(t, 30*time.Second, "service", "ls", "--format", "{{.Name}}")
	for _, n := range strings.Fields(ls.Stdout) {
		if n == name {
			t.Errorf("the denied service %s exists:\n%s", name, ls.Out)
		}
	}
}

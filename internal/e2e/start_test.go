//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startRule denies the start, and only the start, of containers labelled
// e2e.deny-on-start: a policy that changed after the container was created.
const startRule = `package hardened.rules.e2e_start

import data.hardened.lib.violation

# METADATA
# title: Refused at start
# custom:
#   id: E2E001
#   severity: error
deny contains violation.new(rego.metadata.rule(), "refused at start by a policy newer than the container", {"summary": "remove the label"}) if {
	input.action == "container.start"
	input.container.labels["e2e.deny-on-start"] == "yes"
}
`

// TestStartIsDecidedFromTheStoredContainer: a start is decided as the
// container dockerd stored, so a container created before a policy
// changed (or while the plugin was off) is checked before it runs; a
// container the policies allow starts as before.
func TestStartIsDecidedFromTheStoredContainer(t *testing.T) {
	dir := filepath.Join(suite.Dir, "start-policy", "e2e_start")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "e2e_start.rego"), []byte(startRule), 0o644); err != nil {
		t.Fatal(err)
	}
	restart := func(extra []string) {
		t.Helper()
		if _, err := suite.Plugin.Stop(15 * time.Second); err != nil {
			t.Fatalf("stop the plugin: %v", err)
		}
		suite.Plugin.Extra = extra
		if err := suite.StartPlugin(); err != nil {
			t.Fatalf("start the plugin with %v: %v", extra, err)
		}
	}
	original := suite.Plugin.Extra
	t.Cleanup(func() { restart(original) })

	blocked, fine := "e2e-start-blocked-"+randomHex(3), "e2e-start-fine-"+randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", blocked, fine) })
	mustDocker(t, 60*time.Second, "create", "--name", blocked, "--label", "e2e.deny-on-start=yes", ImageBusyboxDev, "sleep", "60")
	mustDocker(t, 60*time.Second, "create", "--name", fine, ImageBusyboxDev, "sleep", "60")

	restart(append(append([]string{}, original...), "--policy", filepath.Dir(dir)))
	offset := suite.Plugin.LogSize()
	res := docker(t, 60*time.Second, "start", blocked)
	if res.OK() {
		t.Fatalf("docker start of a container the policies now refuse succeeded:\n%s", res)
	}
	requireContains(t, "docker start output", res.Out, "E2E001", "refused at start", "authorization denied by plugin "+suite.PluginName)
	d := requireDecision(t, offset, false, "E2E001")
	if d.Field("action") != "container.start" || d.Field("container") != blocked {
		t.Errorf("the decision is not the start of %s: %s", blocked, d.Line)
	}
	if st := docker(t, 30*time.Second, "inspect", "-f", "{{.State.Running}}", blocked); strings.TrimSpace(st.Out) != "false" {
		t.Errorf("the refused container runs: %s", st)
	}

	mustDocker(t, 60*time.Second, "start", fine)
	requireDecision(t, offset, true, "")
}

// TestRunReusesTheCreatesDecisionAtStart: docker run is a create and a
// start; the start of a container the plugin just allowed, on the same
// image, is allowed on that decision without another evaluation (dockerd
// tells the plugin the new container's ID in the create's response).
func TestRunReusesTheCreatesDecisionAtStart(t *testing.T) {
	name := "e2e-start-reuse-" + randomHex(3)
	t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
	offset := suite.Plugin.LogSize()
	mustDocker(t, 60*time.Second, "run", "-d", "--name", name, ImageBusyboxDev, "sleep", "30")
	ds, err := suite.Plugin.DecisionsSince(offset)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Field("action") == "container.start" && d.Field("container") == name {
			if reused, _ := d.Fields["reused"].(bool); !reused || !d.Allow() {
				t.Fatalf("the start was evaluated again: %s", d.Line)
			}
			return
		}
	}
	t.Fatalf("no start decision for %s was logged", name)
}

//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkReport is the part of `authz check --format json` these tests read.
type checkReport struct {
	Findings []struct {
		Rule        string `json:"rule"`
		Service     string `json:"service"`
		ImageSource string `json:"image_source"`
		Line        int    `json:"line"`
		Message     string `json:"message"`
	} `json:"findings"`
	Summary struct {
		Errors int `json:"errors"`
		Fixed  int `json:"fixed"`
	} `json:"summary"`
}

func checkJSON(t *testing.T, res Result) checkReport {
	t.Helper()
	var r checkReport
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("authz check --format json: %v\n%s", err, res)
	}
	return r
}

// writeCompose writes a compose file into a new directory.
func writeCompose(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestCheckUsesTheDaemonsImages checks a service whose image is unknown to
// the catalog and brings a HEALTHCHECK that runs curl, which the image does
// not have. Only the local daemon can tell: with it, `authz check` reports
// HA002 from the image's files (source "index"); without it, from the name
// alone (--no-daemon), it cannot, and says nothing.
func TestCheckUsesTheDaemonsImages(t *testing.T) {
	file := writeCompose(t, "services:\n  web:\n    image: "+ImageAcmeWeb+"\n")

	res := authzCLI(t, time.Minute, "check", "--format", "json", "--docker-host", suite.Daemon.Host(), file)
	if res.ExitCode != 1 {
		t.Fatalf("authz check with the daemon: exit %d, want 1", res.ExitCode)
	}
	r := checkJSON(t, res)
	if len(r.Findings) != 1 || r.Findings[0].Rule != "HA002" || r.Findings[0].ImageSource != "index" ||
		!strings.Contains(r.Findings[0].Message, "inherited from the image") {
		t.Fatalf("want one HA002 on the inherited healthcheck from the image index, got %+v", r.Findings)
	}

	// --no-daemon, though $DOCKER_HOST answers: the catalog does not know
	// acme/web.
	off := Runner{Env: []string{"DOCKER_HOST=" + suite.Daemon.Host()}}.Run(time.Minute, suite.Plugin.Bin, "check", "--no-daemon", "--format", "json", file)
	t.Logf("%s", off)
	if off.ExitCode != 0 || len(checkJSON(t, off).Findings) != 0 {
		t.Fatalf("without a daemon: want exit 0 and no findings")
	}

	// --fix turns the image's healthcheck off and adds the sidecar; compose
	// accepts the result, and the plugin allows its creates.
	fix := authzCLI(t, time.Minute, "check", "--fix", "--docker-host", suite.Daemon.Host(), file)
	if fix.ExitCode != 0 {
		t.Fatalf("authz check --fix: exit %d, want 0", fix.ExitCode)
	}
	fixed, _ := os.ReadFile(file)
	requireContains(t, "fixed compose file", string(fixed), "disable: true", "web-health:", `network_mode: "service:web"`)
	requireFixedProjectIsCreated(t, file, "web", "web-health")
}

// TestCheckFixedProblemIsAllowed fixes the seed's problem with --fix and
// creates the result through the plugin: the fixed file is what the plugin
// would have asked for.
func TestCheckFixedProblemIsAllowed(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(suite.Root, problemCompose))
	if err != nil {
		t.Fatal(err)
	}
	file := writeCompose(t, string(src))
	if res := authzCLI(t, time.Minute, "check", "--docker-host", suite.Daemon.Host(), file); res.ExitCode != 1 {
		t.Fatalf("authz check on the problem: exit %d, want 1", res.ExitCode)
	}
	if res := authzCLI(t, time.Minute, "check", "--fix", "--docker-host", suite.Daemon.Host(), file); res.ExitCode != 0 {
		t.Fatalf("authz check --fix: exit %d, want 0", res.ExitCode)
	}
	requireFixedProjectIsCreated(t, file, "app", "app-health")
}

// requireFixedProjectIsCreated validates file with docker-compose config
// and brings it up through the plugin: every create must be allowed. (It
// must start: docker-compose 1.29 only joins "service:app" to a running
// app, so `up --no-start` would create the sidecar in its own namespace.)
func requireFixedProjectIsCreated(t *testing.T, file string, services ...string) {
	t.Helper()
	p := newProjectAt(t, "fixed", file)
	if res := p.Compose(t, time.Minute, "config", "-q"); !res.OK() {
		t.Fatalf("docker-compose rejects the fixed file:\n%s", res)
	}
	offset := suite.Plugin.LogSize()
	if res := p.Compose(t, 2*time.Minute, "up", "-d"); !res.OK() {
		t.Fatalf("docker-compose up on the fixed file was refused:\n%s", res)
	}
	for _, s := range services {
		if composeContainer(t, p, s) == "" {
			t.Errorf("service %s has no container", s)
		}
	}
	decisions, err := suite.Plugin.DecisionsSince(offset)
	if err != nil {
		t.Fatal(err)
	}
	creates := 0
	for _, d := range decisions {
		if d.Field("action") != "container.create" {
			continue
		}
		creates++
		if !d.Allow() {
			t.Errorf("the plugin denied a create of the fixed project: %s", d.Line)
		}
	}
	if creates < len(services) {
		t.Errorf("%d creates reached the plugin, want %d", creates, len(services))
	}
}

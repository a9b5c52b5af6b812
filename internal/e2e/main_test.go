//go:build e2e

package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// suite is the environment shared by every scenario, set up by TestMain.
var suite *Suite

func TestMain(m *testing.M) {
	if dir := os.Getenv(reaperEnv); dir != "" {
		os.Exit(RunReaper(dir))
	}
	flag.Parse()
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	start := time.Now()
	s, err := NewSuite()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: setting up the suite: %v\n", err)
		return 1
	}
	suite = s
	logf("setup took %s", time.Since(start).Round(time.Millisecond))

	var once sync.Once
	teardown := func() {
		once.Do(func() {
			t0 := time.Now()
			if err := s.Teardown(); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: teardown: %v\n", err)
			}
			logf("teardown took %s", time.Since(t0).Round(time.Millisecond))
		})
	}
	defer teardown()

	// An interrupt (Ctrl-C, CI cancelling) must still stop dockerd and
	// unmount; the default action would just kill this process.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigc
		fmt.Fprintf(os.Stderr, "e2e: got %v, tearing down\n", sig)
		teardown()
		os.Exit(2)
	}()
	// go test's -timeout panics in its own goroutine, which skips deferred
	// calls; tear down shortly before it fires (the reaper is the backstop).
	if d := testTimeout(); d > 0 {
		timer := time.AfterFunc(d-45*time.Second, func() {
			fmt.Fprintf(os.Stderr, "e2e: about to hit -timeout %s, tearing down\n", d)
			teardown()
		})
		defer timer.Stop()
	}

	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "\n--- last lines of the plugin log (%s) ---\n%s\n", s.Plugin.LogPath, tailFile(s.Plugin.LogPath, 40))
		fmt.Fprintf(os.Stderr, "\n--- last lines of the dockerd log (%s) ---\n%s\n\n", s.Daemon.LogPath, tailFile(s.Daemon.LogPath, 40))
	}
	return code
}

// testTimeout is the -test.timeout in force, 0 for none.
func testTimeout() time.Duration {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return 0
	}
	d, err := time.ParseDuration(f.Value.String())
	if err != nil || d < time.Minute {
		return 0
	}
	return d
}

// docker runs the docker CLI against the private daemon.
func docker(t *testing.T, timeout time.Duration, args ...string) Result {
	t.Helper()
	res := suite.Docker.Run(timeout, "docker", args...)
	t.Logf("%s\n", res)
	return res
}

// mustDocker runs the docker CLI and fails the test unless it exits 0.
func mustDocker(t *testing.T, timeout time.Duration, args ...string) Result {
	t.Helper()
	res := docker(t, timeout, args...)
	if !res.OK() {
		t.Fatalf("command failed:\n%s", res)
	}
	return res
}

// Project is one docker-compose project of a scenario.
type Project struct {
	Name string
	File string
}

// newProject names a compose project uniquely for file (relative to the
// repository root) and brings it down when the test ends.
func newProject(t *testing.T, prefix, file string) Project {
	t.Helper()
	return newProjectAt(t, prefix, filepath.Join(suite.Root, file))
}

// newProjectAt is newProject for a compose file anywhere (a test's copy).
func newProjectAt(t *testing.T, prefix, file string) Project {
	t.Helper()
	p := Project{
		Name: "e2e" + prefix + randomHex(3),
		File: file,
	}
	if _, err := os.Stat(p.File); err != nil {
		t.Fatalf("compose file: %v", err)
	}
	suite.RecordProject(p.Name, p.File)
	t.Cleanup(func() {
		res := p.Compose(t, 90*time.Second, "down", "--volumes", "--remove-orphans", "--timeout", "2")
		if !res.OK() {
			t.Errorf("compose down failed:\n%s", res)
			return
		}
		suite.ForgetProject(p.Name)
	})
	return p
}

// ComposeV2 runs docker compose (v2, the docker CLI plugin) on the project
// against the private daemon.
func (p Project) ComposeV2(t *testing.T, timeout time.Duration, args ...string) Result {
	t.Helper()
	res := suite.Docker.Run(timeout, "docker", append([]string{"compose", "-p", p.Name, "-f", p.File}, args...)...)
	t.Logf("%s\n", res)
	return res
}

// Compose runs docker-compose (1.29) on the project against the private daemon.
func (p Project) Compose(t *testing.T, timeout time.Duration, args ...string) Result {
	t.Helper()
	res := suite.Docker.Run(timeout, "docker-compose", append([]string{"-p", p.Name, "-f", p.File}, args...)...)
	t.Logf("%s\n", res)
	return res
}

// requireContains fails the test unless out contains every one of want.
func requireContains(t *testing.T, what, out string, want ...string) {
	t.Helper()
	var missing []string
	for _, w := range want {
		if !strings.Contains(out, w) {
			missing = append(missing, fmt.Sprintf("%q", w))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%s lacks %s; it is:\n%s", what, strings.Join(missing, ", "), out)
	}
}

// requireDecision fails the test unless the plugin logged, after offset, a
// decision with the given allow and, when rule is not "", naming rule.
func requireDecision(t *testing.T, offset int64, allow bool, rule string) Decision {
	t.Helper()
	return requireDecisionOn(t, offset, "", allow, rule, "")
}

// requireDecisionOn is requireDecision for a create of image (when not ""),
// whose image facts came from source (the log's image_source, when not ""):
// "index" when the plugin's index of the image's files answered.
func requireDecisionOn(t *testing.T, offset int64, image string, allow bool, rule, source string) Decision {
	t.Helper()
	ds, err := suite.Plugin.DecisionsSince(offset)
	if err != nil {
		t.Fatalf("read plugin log: %v", err)
	}
	var lines []string
	for _, d := range ds {
		if d.Allow() == allow && (rule == "" || d.HasRule(rule)) &&
			(image == "" || d.Field("image") == image) && (source == "" || d.Field("image_source") == source) {
			t.Logf("plugin decision: %s", d.Line)
			return d
		}
		lines = append(lines, d.Line)
	}
	t.Fatalf("the plugin logged no decision with allow=%v rule %q image %q image_source %q; its decisions since the step:\n%s",
		allow, rule, image, source, strings.Join(lines, "\n"))
	return Decision{}
}

// waitFor polls cond every interval until it returns true or timeout passes,
// and returns whether it did.
func waitFor(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

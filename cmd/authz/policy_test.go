package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/testtree"
)

// acmeRule and acmeTest are the README's example rule (images must come
// from the internal registry) and its test, kept in testdata/acme.
var acmeRule, acmeTest = testtree.Acme("acme_registry.rego"), testtree.Acme("acme_registry_test.rego")

// policyDir writes an acme policy directory; broken makes its rule
// allow everything, so that its test fails.
func policyDir(t *testing.T, broken bool) string {
	t.Helper()
	rule := acmeRule
	if broken {
		rule = strings.Replace(rule, "not startswith(", "startswith(", 1)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{"acme/acme_registry.rego": rule, "acme/acme_registry_test.rego": acmeTest} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var passCount = regexp.MustCompile(`(?m)^PASS: ([0-9]+)/([0-9]+)$`)

// `authz policy test` runs the shipped tests and those of each DIR, and
// exits 0, 1 or 2 as `opa test` and the other commands do.
func TestPolicyTest(t *testing.T) {
	stdout, stderr, code := run(t, "policy", "test")
	m := passCount.FindStringSubmatch(stdout)
	if code != 0 || m == nil || m[1] != m[2] || !strings.Contains(stdout, "valid") {
		t.Fatalf("shipped set: exit %d\n%s%s", code, stdout, stderr)
	}
	shipped := m[2]

	stdout, stderr, code = run(t, "policy", "test", policyDir(t, false))
	if m := passCount.FindStringSubmatch(stdout); code != 0 || m == nil || m[1] != m[2] || m[2] == shipped {
		t.Errorf("a good directory: exit %d\n%s%s", code, stdout, stderr)
	}

	dir := policyDir(t, true)
	stdout, stderr, code = run(t, "policy", "test", dir)
	want := filepath.Join(dir, "acme", "acme_registry_test.rego") + ":5: data.hardened.rules.acme_registry.test_denies_public_images: FAIL"
	if code != 1 || !strings.Contains(stdout, want) || !strings.Contains(stdout, "FAIL: 1/") || !strings.Contains(stderr, "rejected") {
		t.Errorf("a failing test: exit %d, want 1 and %q\n%s%s", code, want, stdout, stderr)
	}

	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "x.rego"), []byte("package hardened.rules.x\n\ndeny contains y if {\n\ty == input.nope\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = run(t, "policy", "test", bad)
	if code != 1 || !strings.Contains(stderr, filepath.Join(bad, "x.rego")+":4:") {
		t.Errorf("a compile error: exit %d, want 1 and the file:line\n%s", code, stderr)
	}

	if _, stderr, code = run(t, "policy", "test", filepath.Join(bad, "missing")); code != 2 {
		t.Errorf("a missing directory: exit %d, want 2\n%s", code, stderr)
	}
	if _, stderr, code = run(t, "policy", "test", "--nope"); code != 2 {
		t.Errorf("an unknown flag: exit %d, want 2\n%s", code, stderr)
	}
}

// `authz serve --check-only` validates what serve would serve and exits
// without serving.
func TestServeCheckOnly(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "plugin.sock")
	stdout, stderr, code := run(t, "serve", "--check-only", "--socket", socket, "--policy", policyDir(t, false))
	if code != 0 || !strings.Contains(stdout, "valid") {
		t.Errorf("good policies: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(socket); err == nil {
		t.Error("--check-only opened the socket")
	}
	dir := policyDir(t, true)
	_, stderr, code = run(t, "serve", "--check-only", "--socket", socket, "--policy", dir)
	if code != 1 || !strings.Contains(stderr, filepath.Join(dir, "acme", "acme_registry_test.rego")+":5: test data.hardened.rules.acme_registry.test_denies_public_images failed") {
		t.Errorf("a failing test: exit %d, want 1 with its file:line\n%s", code, stderr)
	}
}

// A running `authz serve` takes a good edit of its --policy directory,
// rejects a broken one and keeps its revision, and reloads on SIGHUP.
func TestServeReloads(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := policyDir(t, false)
	rule := filepath.Join(dir, "acme", "acme_registry.rego")
	tmp := t.TempDir()
	cmd := exec.Command(self, "serve", "--socket", filepath.Join(tmp, "plugin.sock"), "--state-dir", "",
		"--docker-host", "unix://"+filepath.Join(tmp, "no-docker.sock"), "--log-format", "text", "--policy", dir)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		go io.Copy(io.Discard, stderr)
		cmd.Wait()
	})
	// expect waits for a log line containing every one of want.
	expect := func(want ...string) string {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("authz serve exited before logging %q", want)
				}
				found := true
				for _, w := range want {
					found = found && strings.Contains(l, w)
				}
				if found {
					return l
				}
			case <-deadline:
				t.Fatalf("no log line with %q", want)
			}
		}
	}
	on := expect("policy reload on", "watch=true")
	revision := regexp.MustCompile(`revision=([0-9a-f]{12})`)
	first := revision.FindStringSubmatch(on)
	if first == nil {
		t.Fatalf("no revision in %q", on)
	}

	content, err := os.ReadFile(rule)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rule, []byte(strings.Replace(string(content), "not startswith(", "startswith(", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	rejected := expect("policy reload rejected")
	if !strings.Contains(rejected, "acme_registry_test.rego:5") {
		t.Errorf("the rejection does not name the failing test's line: %s", rejected)
	}

	if err := os.WriteFile(rule, append(content, []byte("\n# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	reloaded := revision.FindStringSubmatch(expect("policy reloaded"))
	if reloaded == nil || reloaded[1] == first[1] {
		t.Errorf("reloaded revision %v, first %s", reloaded, first[1])
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expect("policy unchanged", "trigger=\"signal hangup\"")
}

// A reload takes the policies and the other steps (the exceptions file)
// together or not at all: a step that rejects its file keeps the running
// policies, and a step is committed only when it changed.
func TestPolicyApplyWithSteps(t *testing.T) {
	ctx := t.Context()
	dir := policyDir(t, false)
	var (
		committed int
		changed   bool
		fail      error
	)
	steps := []reloadStep{{Name: "--exceptions x.yaml", Prepare: func(context.Context) (func(), bool, error) {
		return func() { committed++ }, changed, fail
	}}}
	e, err := validatedEngine(ctx, []string{dir}, steps)
	if err != nil || committed != 0 {
		t.Fatalf("start: %v, %d commits", err, committed)
	}
	apply := policyApply(e, []string{dir}, steps)
	first := e.Revision()
	if rev, ch, err := apply(ctx); err != nil || ch || rev != first || committed != 0 {
		t.Errorf("nothing changed: %s %v %v, %d commits", rev, ch, err, committed)
	}
	changed = true
	if rev, ch, err := apply(ctx); err != nil || !ch || rev != first || committed != 1 {
		t.Errorf("the step changed: %s %v %v, %d commits", rev, ch, err, committed)
	}
	rule := filepath.Join(dir, "acme", "acme_registry.rego")
	if err := os.WriteFile(rule, []byte(acmeRule+"\n# edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fail = errors.New("line 3: unknown rule")
	if _, _, err := apply(ctx); err == nil || !strings.Contains(err.Error(), "--exceptions x.yaml: line 3") || e.Revision() != first || committed != 1 {
		t.Errorf("a step rejected its file: %v, revision %s (was %s), %d commits", err, e.Revision(), first, committed)
	}
	fail = nil
	if rev, ch, err := apply(ctx); err != nil || !ch || rev == first || rev != e.Revision() || committed != 2 {
		t.Errorf("fixed: %s %v %v, %d commits", rev, ch, err, committed)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unsetenv unsets key for the test, restoring it after.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	os.Unsetenv(key)
}

// A project whose .env sets COMPOSE_PROFILES is checked with the services
// of those profiles, as docker compose would start them; run from a
// subdirectory, the parent project and its .env are found.
func TestCheckComposeProfilesFromDotEnv(t *testing.T) {
	for _, k := range []string{"COMPOSE_PROFILES", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_ENV_FILES", "COMPOSE_DISABLE_ENV_FILE"} {
		unsetenv(t, k)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"compose.yaml": "services:\n  app:\n    image: busybox\n  debug:\n    image: dhi.io/node:25\n    profiles: [debug]\n    healthcheck:\n      test: curl -f http://localhost/\n",
		".env":         "COMPOSE_PROFILES=debug\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, "check", "--no-daemon", "--format", "json", dir)
	r := jsonReport(t, stdout)
	if code != 1 || r.Summary.Services != 2 || len(r.Findings) == 0 || r.Findings[0].Service != "debug" {
		t.Errorf("exit %d, %d services, findings %+v, want the debug service checked\n%s", code, r.Summary.Services, r.Findings, stderr)
	}
	stdout, _, _ = run(t, "check", "--no-daemon", "--format", "json", "--profile", "other", dir)
	if r := jsonReport(t, stdout); r.Summary.Services != 1 {
		t.Errorf("--profile other: %d services, want app alone", r.Summary.Services)
	}

	t.Chdir(filepath.Join(dir, "sub"))
	stdout, stderr, code = run(t, "check", "--no-daemon", "--format", "json")
	if r := jsonReport(t, stdout); code != 1 || r.Summary.Services != 2 {
		t.Errorf("from a subdirectory: exit %d, %d services, want the parent project with its .env\n%s", code, r.Summary.Services, stderr)
	}
}

// An override file given alone, without its base file next to it, is
// loaded alone, fails, and says how to check it.
func TestCheckOverrideFileAlone(t *testing.T) {
	dir := t.TempDir()
	override := filepath.Join(dir, "docker-compose.override.yml")
	if err := os.WriteFile(override, []byte("services:\n  web:\n    ports: [\"8080:80\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, "check", "--no-daemon", override)
	if code != 2 || !strings.Contains(stderr, "override file") || !strings.Contains(stderr, "-f <base file> -f "+override) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	_, stderr, code = run(t, "check", "--no-daemon", "-f", override)
	if code != 2 || !strings.Contains(stderr, "authz check -f") {
		t.Errorf("-f override: exit %d, stderr:\n%s", code, stderr)
	}
}

// A FIFO named as the compose file is refused at once, not opened.
func TestCheckRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "compose.yaml")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, "check", "--no-daemon", "-f", fifo)
	if code != 2 || !strings.Contains(stderr, "named pipe") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

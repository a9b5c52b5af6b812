package compose

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/testtree"
)

// env is a controlled process environment: nothing of the test runner's
// (no COMPOSE_* variable, no PWD) but what a test sets.
func env(vars ...string) []string { return append([]string{"PATH=/usr/bin:/bin"}, vars...) }

// loadErr loads o and returns the error, failing the test when the load
// takes more than a few seconds (a FIFO opened by mistake blocks forever).
func loadErr(t *testing.T, o Options) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(context.Background(), o)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("Load(%+v) still running after 10s", o)
		return nil
	}
}

func services(p *Project) []string { return p.Services() }

const profiled = `services:
  app:
    image: app
  debug:
    image: busybox
    profiles: [debug]
  metrics:
    image: prom/prometheus
    profiles: [metrics]
`

// COMPOSE_PROFILES enables profiles from the environment or the .env, as
// with docker compose; --profile replaces it.
func TestComposeProfiles(t *testing.T) {
	dir := testtree.Write(t, map[string]string{"compose.yaml": profiled})
	p := load(t, Options{ProjectDir: dir, Env: env("COMPOSE_PROFILES=debug, metrics")})
	eq(t, "from the environment", services(p), []string{"app", "debug", "metrics"})

	withDotEnv := testtree.Write(t, map[string]string{"compose.yaml": profiled, ".env": "COMPOSE_PROFILES=metrics\n"})
	p = load(t, Options{ProjectDir: withDotEnv, Env: env()})
	eq(t, "from .env", services(p), []string{"app", "metrics"})
	p = load(t, Options{ProjectDir: withDotEnv, Env: env("COMPOSE_PROFILES=debug")})
	eq(t, "the environment wins over .env", services(p), []string{"app", "debug"})
	p = load(t, Options{ProjectDir: withDotEnv, Env: env("COMPOSE_PROFILES=metrics"), Profiles: []string{"debug"}})
	eq(t, "--profile replaces COMPOSE_PROFILES", services(p), []string{"app", "debug"})
	p = load(t, Options{ProjectDir: withDotEnv, Env: env(), Profiles: []string{"*"}})
	eq(t, "--profile '*'", services(p), []string{"app", "debug", "metrics"})
}

// Run from a subdirectory, the project is found in a parent directory and
// the parent's .env is read too (after the working directory's own).
func TestParentDirectoryDotEnv(t *testing.T) {
	root := testtree.Write(t, map[string]string{
		"compose.yaml": `services:
  web:
    image: ${IMAGE}:${TAG}
  debug:
    image: busybox
    profiles: [debug]
`,
		".env":            "IMAGE=from-parent\nTAG=1\nCOMPOSE_PROFILES=debug\n",
		"sub/deeper/.env": "TAG=from-subdir\n",
		"sub/README":      "no compose file here\n",
	})
	t.Chdir(filepath.Join(root, "sub"))
	p := load(t, Options{Env: env()})
	eq(t, "files", p.Files, []string{filepath.Join(root, "compose.yaml")})
	eq(t, "name", p.Name, filepath.Base(root))
	eq(t, "image", p.Model.Services["web"].Image, "from-parent:1")
	eq(t, "profiles from the parent's .env", services(p), []string{"debug", "web"})

	t.Chdir(filepath.Join(root, "sub", "deeper"))
	p = load(t, Options{Env: env()})
	eq(t, "the working directory's .env wins", p.Model.Services["web"].Image, "from-parent:from-subdir")
}

// COMPOSE_FILE (split at COMPOSE_PATH_SEPARATOR), COMPOSE_PROJECT_NAME and
// COMPOSE_ENV_FILES act as docker compose's.
func TestComposeVariables(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"base.yaml":     "services:\n  web:\n    image: ${IMG:-nginx}\n",
		"prod.yaml":     "services:\n  web:\n    mem_limit: 64m\n",
		"compose.yaml":  "name: from-file\nservices:\n  other:\n    image: other\n",
		"prod.env":      "IMG=from-prod-env\n",
		".env":          "COMPOSE_FILE=base.yaml|prod.yaml\nCOMPOSE_PATH_SEPARATOR=|\n",
		"named/.env":    "COMPOSE_PROJECT_NAME=from-dotenv\n",
		"named/c.yaml":  "services:\n  s:\n    image: s\n",
		"unnamed/.keep": "",
	})
	// Relative COMPOSE_FILE entries are relative to the working directory,
	// in docker compose too, whatever the project directory.
	t.Chdir(dir)
	p := load(t, Options{ProjectDir: dir, Env: env()})
	eq(t, "COMPOSE_FILE from .env", p.Files, []string{filepath.Join(dir, "base.yaml"), filepath.Join(dir, "prod.yaml")})
	eq(t, "merged", p.Model.Services["web"].MemLimit > 0, true)
	eq(t, "default name: the directory", p.Name, filepath.Base(dir))

	p = load(t, Options{ProjectDir: dir, Env: env("COMPOSE_FILE=compose.yaml")})
	eq(t, "COMPOSE_FILE from the environment wins", services(p), []string{"other"})
	eq(t, "name from the file", p.Name, "from-file")
	p = load(t, Options{ProjectDir: dir, Env: env("COMPOSE_FILE=compose.yaml", "COMPOSE_PROJECT_NAME=env-name")})
	eq(t, "COMPOSE_PROJECT_NAME wins over name:", p.Name, "env-name")
	p = load(t, Options{ProjectDir: dir, Env: env("COMPOSE_FILE=compose.yaml", "COMPOSE_PROJECT_NAME=env-name"), ProjectName: "flag-name"})
	eq(t, "-p wins", p.Name, "flag-name")
	if err := loadErr(t, Options{ProjectDir: dir, Env: env(), ProjectName: "Not Valid"}); err == nil {
		t.Error("invalid -p: no error")
	}

	p = load(t, Options{Files: []string{filepath.Join(dir, "named", "c.yaml")}, Env: env()})
	eq(t, "COMPOSE_PROJECT_NAME from .env", p.Name, "from-dotenv")

	p = load(t, Options{ProjectDir: dir, Env: env("COMPOSE_ENV_FILES=" + filepath.Join(dir, "prod.env") + ",")})
	eq(t, "COMPOSE_ENV_FILES replaces .env", p.Files, []string{filepath.Join(dir, "compose.yaml")})
	p = load(t, Options{Files: []string{filepath.Join(dir, "base.yaml")}, Env: env("COMPOSE_ENV_FILES=" + filepath.Join(dir, "prod.env"))})
	eq(t, "COMPOSE_ENV_FILES interpolates", p.Model.Services["web"].Image, "from-prod-env")
	p = load(t, Options{Files: []string{filepath.Join(dir, "base.yaml")}, Env: env("COMPOSE_DISABLE_ENV_FILE=1")})
	eq(t, "COMPOSE_DISABLE_ENV_FILE", p.Model.Services["web"].Image, "nginx")
}

// mkfifo makes a named pipe; opening it for reading blocks until a writer
// comes, which none does.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not say %q", what, err, p)
		}
	}
}

// Files that are not regular files are refused before compose-go opens
// them, wherever they are named: a FIFO would block the open forever, a
// device would be read forever.
func TestNonRegularFilesAreRefused(t *testing.T) {
	dir := testtree.Write(t, map[string]string{"base.yaml": "services:\n  b:\n    image: b\n"})
	fifo := filepath.Join(dir, "fifo.yaml")
	mkfifo(t, fifo)
	if err := os.Symlink(fifo, filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "-f FIFO", loadErr(t, Options{Files: []string{fifo}, Env: env()}), fifo, "named pipe")
	wantErr(t, "-f symlink to a FIFO", loadErr(t, Options{Files: []string{filepath.Join(dir, "link.yaml")}, Env: env()}), "link.yaml", "named pipe")
	wantErr(t, "-f /dev/zero", loadErr(t, Options{Files: []string{filepath.Join(dir, "zero.yaml")}, Env: env()}), "zero.yaml", "/dev/zero", "device")
	wantErr(t, "COMPOSE_FILE FIFO", loadErr(t, Options{ProjectDir: dir, Env: env("COMPOSE_FILE=fifo.yaml")}), "fifo.yaml")

	found := testtree.Write(t, map[string]string{})
	mkfifo(t, filepath.Join(found, "compose.yaml"))
	wantErr(t, "compose.yaml FIFO found by name", loadErr(t, Options{ProjectDir: found, Env: env()}), "compose.yaml", "named pipe")

	for name, content := range map[string]string{
		"include":    "include: [fifo.yaml]\nservices:\n  a:\n    image: a\n",
		"include-ov": "include:\n  - path: [base.yaml, link.yaml]\nservices:\n  a:\n    image: a\n",
		"extends":    "services:\n  a:\n    extends: {file: fifo.yaml, service: x}\n",
		"label_file": "services:\n  a:\n    image: a\n    label_file: fifo.yaml\n",
	} {
		f := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		wantErr(t, name, loadErr(t, Options{Files: []string{f}, Env: env()}), "fifo.yaml", "not a regular file")
	}

	envDir := testtree.Write(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: a\n"})
	mkfifo(t, filepath.Join(envDir, ".env"))
	wantErr(t, ".env FIFO", loadErr(t, Options{ProjectDir: envDir, Env: env()}), ".env", "named pipe")
	wantErr(t, "--env-file FIFO", loadErr(t, Options{ProjectDir: dir, Files: []string{filepath.Join(dir, "base.yaml")}, EnvFiles: []string{fifo}, Env: env()}), "fifo.yaml", "env file")

	incDir := testtree.Write(t, map[string]string{
		"compose.yaml":     "include: [inc/compose.yaml]\n",
		"inc/compose.yaml": "services:\n  a:\n    image: a\n",
	})
	mkfifo(t, filepath.Join(incDir, "inc", ".env"))
	wantErr(t, "included project's .env FIFO", loadErr(t, Options{ProjectDir: incDir, Env: env()}), ".env", "named pipe")
}

// A compose or env file larger than MaxFileSize is refused: compose-go
// would read it whole.
func TestLargeFilesAreRefused(t *testing.T) {
	dir := testtree.Write(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: a\n"})
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	wantErr(t, "-f big", loadErr(t, Options{Files: []string{big}, Env: env()}), "big.yaml", "16 MiB")
	wantErr(t, "--env-file big", loadErr(t, Options{ProjectDir: dir, EnvFiles: []string{big}, Env: env()}), "big.yaml", "16 MiB")
	inc := filepath.Join(dir, "inc.yaml")
	if err := os.WriteFile(inc, []byte("include: [big.yaml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "include big", loadErr(t, Options{Files: []string{inc}, Env: env()}), "big.yaml", "16 MiB")
}

// Remote include and extends are not fetched: the error names the file,
// the reference and what to do.
func TestRemoteResourcesAreNotFetched(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, ref string }{
		"git include": {"include:\n  - https://github.com/docker/awesome-compose.git#master:nginx-golang\n",
			"https://github.com/docker/awesome-compose.git#master:nginx-golang"},
		"oci include":       {"include:\n  - path: oci://docker.io/acme/stack:1\n", "oci://docker.io/acme/stack:1"},
		"scp-style include": {"include: [\"git@github.com:acme/stack.git\"]\n", "git@github.com:acme/stack.git"},
		"git extends": {"services:\n  a:\n    extends:\n      file: ${REPO}\n      service: b\n",
			"https://example.com/acme/base.git"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := testtree.Write(t, map[string]string{"compose.yaml": tc.yaml})
			err := loadErr(t, Options{ProjectDir: dir, Env: env("REPO=https://example.com/acme/base.git")})
			wantErr(t, name, err, filepath.Join(dir, "compose.yaml"), tc.ref, "not fetched", "local copy")
			var remote *RemoteError
			if !errors.As(err, &remote) || remote.Ref != tc.ref {
				t.Errorf("error %v: want a RemoteError for %s", err, tc.ref)
			}
		})
	}
	// Local paths that look like nothing remote stay local.
	for _, local := range []string{"./git@host:x", "compose.yaml", "../a.git", "https://example.com/compose.yaml", "ftp://x.git"} {
		if k := remoteKind(local); k != "" {
			t.Errorf("remoteKind(%q) = %q, want local", local, k)
		}
	}
	for _, remote := range []string{"github.com/acme/x", "ssh://git@host/x", "git://host/x", "http://host/x.git#main:dir", "oci://x"} {
		if remoteKind(remote) == "" {
			t.Errorf("remoteKind(%q) = local, want remote", remote)
		}
	}
}

// An override file checked alone says how to check it with its base.
func TestOverrideAloneHint(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"docker-compose.yml":          "services:\n  web:\n    image: nginx\n",
		"docker-compose.override.yml": "services:\n  web:\n    ports: [\"8080:80\"]\n",
	})
	override := filepath.Join(dir, "docker-compose.override.yml")
	wantErr(t, "override alone", loadErr(t, Options{Files: []string{override}, Env: env()}),
		"override file", "-f "+filepath.Join(dir, "docker-compose.yml")+" -f "+override)
	p := load(t, Options{Files: []string{filepath.Join(dir, "docker-compose.yml"), override}, Env: env()})
	eq(t, "with its base", services(p), []string{"web"})
}

// A cancelled context stops a load at once.
func TestLoadObservesContext(t *testing.T) {
	dir := testtree.Write(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: a\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, Options{ProjectDir: dir, Env: env()}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled load: %v", err)
	}
}

// A service from an included file, and a healthcheck inherited through
// extends from another file, point at the line in that file.
func TestPositionsInIncludedAndExtendedFiles(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "compose", "include-extends"))
	if err != nil {
		t.Fatal(err)
	}
	p := load(t, Options{ProjectDir: dir, Env: env()})
	eq(t, "services", services(p), []string{"api", "worker"})
	eq(t, "inherited healthcheck", []string(p.Model.Services["api"].HealthCheck.Test), []string{"CMD", "curl", "-f", "http://localhost:3000/health"})
	for _, tc := range []struct {
		service string
		keys    []string
		file    string
		line    int
		col     int
	}{
		{"api", []string{"healthcheck", "test"}, "common/base.yaml", 6, 13},
		{"api", []string{"healthcheck", "interval"}, "common/base.yaml", 7, 7},
		{"api", []string{"user"}, "common/base.yaml", 4, 5},
		{"api", []string{"image"}, "compose.yaml", 10, 5},
		{"api", []string{"depends_on", "worker"}, "compose.yaml", 12, 7},
		{"api", []string{"network_mode"}, "compose.yaml", 6, 3}, // fallback: the service's key
		{"worker", []string{"healthcheck", "test"}, "worker/compose.yaml", 6, 13},
		{"worker", []string{"image"}, "worker/compose.yaml", 4, 5},
		{"worker", []string{"ports"}, "worker/compose.yaml", 3, 3},
	} {
		file, line, col := p.Position(tc.service, tc.keys...)
		eq(t, tc.service+" "+strings.Join(tc.keys, "."), []any{file, line, col}, []any{filepath.Join(dir, filepath.FromSlash(tc.file)), tc.line, tc.col})
	}
}

// An override file wins over an extended base for the keys it sets, and
// extends chains are followed across files.
func TestPositionsThroughOverrideAndExtendsChain(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"compose.yaml":          "services:\n  web:\n    extends: {file: lib/mid.yaml, service: mid}\n",
		"compose.override.yaml": "services:\n  web:\n    image: nginx\n",
		"lib/mid.yaml":          "services:\n  mid:\n    extends: {file: root.yaml, service: root}\n    user: \"1\"\n",
		"lib/root.yaml":         "services:\n  root:\n    image: busybox\n    healthcheck:\n      test: [CMD, wget, -q, http://localhost/]\n",
	})
	p := load(t, Options{ProjectDir: dir, Env: env()})
	eq(t, "image", p.Model.Services["web"].Image, "nginx")
	file, line, _ := p.Position("web", "image")
	eq(t, "image from the override", []any{file, line}, []any{filepath.Join(dir, "compose.override.yaml"), 3})
	file, line, _ = p.Position("web", "user")
	eq(t, "user from mid", []any{file, line}, []any{filepath.Join(dir, "lib", "mid.yaml"), 4})
	file, line, _ = p.Position("web", "healthcheck", "test")
	eq(t, "test from root", []any{file, line}, []any{filepath.Join(dir, "lib", "root.yaml"), 5})
	if !slices.Equal(p.Files, []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "compose.override.yaml")}) {
		t.Errorf("files %v", p.Files)
	}
}

package compose

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/testtree"
)

func load(t *testing.T, o Options) *Project {
	t.Helper()
	p, err := Load(context.Background(), o)
	if err != nil {
		t.Fatalf("Load(%+v): %v", o, err)
	}
	return p
}

func seed(t *testing.T, name string) *Project {
	t.Helper()
	return load(t, Options{Files: []string{filepath.Join("..", "..", "testdata", "seed", name, "compose.yaml")}})
}

// documents builds every service's document, sorted by service, with the
// image facts its name gives (what `authz check` has without a daemon).
func documents(p *Project) []input.Document {
	var docs []input.Document
	for _, name := range p.Services() {
		docs = append(docs, p.Document(name, imagefacts.Image{Facts: imagefacts.Named(p.Model.Services[name].Image)}))
	}
	return docs
}

func docs(t *testing.T, p *Project) map[string]input.Document {
	t.Helper()
	m := map[string]input.Document{}
	for _, d := range documents(p) {
		if d.Source != input.SourceCompose || d.Action != input.ActionContainerCreate || d.Request != nil {
			t.Errorf("%s: source %q action %q request %v", d.Container.Name, d.Source, d.Action, d.Request)
		}
		m[d.Container.Name] = d
	}
	return m
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestProblem(t *testing.T) {
	p := seed(t, "problem")
	eq(t, "name", p.Name, "problem")
	ds := docs(t, p)
	eq(t, "services", len(ds), 1)
	app := ds["app"]
	c := app.Container
	eq(t, "compose", c.Compose, &input.Compose{Project: "problem", Service: "app"})
	eq(t, "image", c.Image, "dhi.io/node:25-debian13-sfw-ent-dev")
	eq(t, "entrypoint", c.Entrypoint, []string{})
	eq(t, "command", c.Command, []string{})
	eq(t, "user", c.User, "")
	eq(t, "path", c.Path, []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"})
	eq(t, "healthcheck", c.Healthcheck, input.Healthcheck{
		Form:     input.FormCmd,
		Test:     []string{"CMD", "curl", "-f", "http://localhost:3000/health"},
		Program:  "curl",
		Args:     []string{"-f", "http://localhost:3000/health"},
		Shell:    []string{},
		Commands: []string{},
		ProbeURL: "http://localhost:3000/health", ProbeLoopback: true,
	})
	eq(t, "network", c.Network, input.Network{Mode: "default"})
	eq(t, "ports", c.Ports, []input.Port{})
	eq(t, "labels", c.Labels, map[string]string{})
	eq(t, "image doc", app.Image, &input.Image{
		Ref:        "dhi.io/node:25-debian13-sfw-ent-dev",
		Repository: "dhi.io/node",
		Tag:        "25-debian13-sfw-ent-dev",
		Source:     "catalog",
		Labels:     map[string]string{},
		Shell:      []string{},
	})
	// The document must be convertible for the engine.
	if app.Value() == nil {
		t.Error("Value() is nil")
	}

	file, line, col := p.Position("app", "healthcheck", "test")
	abs, _ := filepath.Abs("../../testdata/seed/problem/compose.yaml")
	eq(t, "position file", file, abs)
	eq(t, "position", [2]int{line, col}, [2]int{5, 13})
	// Unknown keys fall back to the service's key.
	_, line, col = p.Position("app", "network_mode")
	eq(t, "fallback", [2]int{line, col}, [2]int{2, 3})
	file, _, _ = p.Position("nope")
	eq(t, "unknown service", file, "")
}

func TestSolution(t *testing.T) {
	p := seed(t, "solution")
	ds := docs(t, p)
	app, health := ds["app"].Container, ds["app-health"].Container
	eq(t, "app ports", app.Ports, []input.Port{{ContainerPort: "3000/tcp", HostPort: "3000"}})
	eq(t, "app network", app.Network, input.Network{Mode: "default"})
	eq(t, "network", health.Network, input.Network{
		Mode:   "container",
		Target: "app",
		Container: &input.NetworkContainer{
			Found:   true,
			Name:    "app",
			Image:   "dhi.io/node:25-debian13-sfw-ent-dev",
			Compose: &input.Compose{Project: "solution", Service: "app"},
		},
	})
	eq(t, "entrypoint", health.Entrypoint, []string{"sleep", "infinity"})
	eq(t, "command", health.Command, []string{})
	eq(t, "memory", health.MemoryBytes, int64(0))
	eq(t, "sidecar", health.MayBeSidecar(), true)
	h := health.Healthcheck
	eq(t, "durations", []int64{h.IntervalNs, h.TimeoutNs, h.StartPeriodNs}, []int64{30e9, 3e9, 10e9})
	eq(t, "retries", h.Retries, 3)
	eq(t, "probe port", health.LocalProbePort(), "3000")

	_, line, col := p.Position("app-health", "network_mode")
	eq(t, "network_mode position", [2]int{line, col}, [2]int{12, 5})
	_, line, col = p.Position("app-health", "healthcheck", "test")
	eq(t, "test position", [2]int{line, col}, [2]int{14, 13})
}

func TestProduction(t *testing.T) {
	p := seed(t, "production")
	ds := docs(t, p)
	eq(t, "services", len(ds), 3)
	h := ds["api-health"].Container
	eq(t, "memory", h.MemoryBytes, int64(33554432))
	eq(t, "network target", h.Network.Target, "api")
	eq(t, "start period", h.Healthcheck.StartPeriodNs, int64(45e9))
	eq(t, "api ports", ds["api"].Container.Ports, []input.Port{{ContainerPort: "8080/tcp", HostPort: "8080"}})
	eq(t, "worker healthcheck", ds["worker"].Container.Healthcheck.Form, input.FormAbsent)

	_, line, col := p.Position("worker", "depends_on", "api-health")
	eq(t, "depends_on position", [2]int{line, col}, [2]int{31, 7})
}

func TestMulti(t *testing.T) {
	p := seed(t, "multi")
	ds := docs(t, p)
	eq(t, "services", len(ds), 5)
	eq(t, "backend-health probe", ds["backend-health"].Container.Healthcheck.ProbeURL, "http://localhost:8080/api/health")
	eq(t, "e2e image", ds["e2e-tests"].Image.Repository, "docker.io/library/test-runner")
	eq(t, "e2e tag", ds["e2e-tests"].Image.Tag, "latest")
}

func TestOverrideDefaultFiles(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"compose.yaml": `name: demo
services:
  web:
    image: nginx
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost/"]
    mem_limit: 64m
`,
		"compose.override.yaml": `services:
  web:
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost:8080/"]
    ports:
      - "127.0.0.1:8080:80"
`,
	})
	p := load(t, Options{ProjectDir: dir})
	eq(t, "files", len(p.Files), 2)
	eq(t, "name", p.Name, "demo")
	c := docs(t, p)["web"].Container
	eq(t, "program", c.Healthcheck.Program, "wget")
	eq(t, "probe", c.Healthcheck.ProbeURL, "http://localhost:8080/")
	eq(t, "memory", c.MemoryBytes, int64(64<<20))
	eq(t, "ports", c.Ports, []input.Port{{ContainerPort: "80/tcp", HostIP: "127.0.0.1", HostPort: "8080"}})

	file, line, col := p.Position("web", "healthcheck", "test")
	eq(t, "override wins", file, filepath.Join(dir, "compose.override.yaml"))
	eq(t, "position", [2]int{line, col}, [2]int{4, 13})
	file, line, col = p.Position("web", "mem_limit")
	eq(t, "base file", file, filepath.Join(dir, "compose.yaml"))
	eq(t, "mem_limit position", [2]int{line, col}, [2]int{7, 5})
	file, line, col = p.Position("web", "user")
	eq(t, "fallback to last file", file, filepath.Join(dir, "compose.override.yaml"))
	eq(t, "fallback position", [2]int{line, col}, [2]int{2, 3})
}

func TestExtendsEnvAndShellForm(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		".env": "PORT=4000\nTAG=1.2\n",
		"compose.yaml": `services:
  base:
    image: acme/app:${TAG}
    user: "1000"
    healthcheck:
      test: curl -f http://localhost:${PORT}/ready || exit 1
      interval: 1m30s
  child:
    extends: base
    command: ["serve", "--port", "${PORT}"]
    labels:
      tier: web
  off:
    image: redis
    healthcheck:
      disable: true
`,
	})
	p := load(t, Options{Files: []string{filepath.Join(dir, "compose.yaml")}})
	ds := docs(t, p)
	child := ds["child"].Container
	eq(t, "image", child.Image, "acme/app:1.2")
	eq(t, "image repo", ds["child"].Image.Repository, "docker.io/acme/app")
	eq(t, "user", child.User, "1000")
	eq(t, "command", child.Command, []string{"serve", "--port", "4000"})
	eq(t, "labels", child.Labels, map[string]string{"tier": "web"})
	eq(t, "healthcheck", child.Healthcheck, input.Healthcheck{
		Form:         input.FormShell,
		Test:         []string{"CMD-SHELL", "curl -f http://localhost:4000/ready || exit 1"},
		Program:      "/bin/sh",
		Args:         []string{},
		Shell:        []string{"/bin/sh", "-c"},
		ShellCommand: "curl -f http://localhost:4000/ready || exit 1",
		Commands:     []string{"curl"},
		ProbeURL:     "http://localhost:4000/ready", ProbeLoopback: true,
		IntervalNs: 90e9,
	})
	off := ds["off"].Container.Healthcheck
	eq(t, "disabled form", off.Form, input.FormNone)
	eq(t, "disabled test", off.Test, []string{"NONE"})
}

func TestEnvFilesOption(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		".env":     "IMG=from-dotenv\n",
		"prod.env": "IMG=from-prod\n",
		"compose.yaml": `services:
  s:
    image: ${IMG}
`,
	})
	p := load(t, Options{ProjectDir: dir, EnvFiles: []string{filepath.Join(dir, "prod.env")}})
	eq(t, "image", docs(t, p)["s"].Container.Image, "from-prod")
	p = load(t, Options{ProjectDir: dir})
	eq(t, "image", docs(t, p)["s"].Container.Image, "from-dotenv")
}

func TestProfiles(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"compose.yaml": `services:
  app:
    image: app
  debug:
    image: busybox
    profiles: [debug]
`,
	})
	p := load(t, Options{ProjectDir: dir})
	eq(t, "default", len(docs(t, p)), 1)
	p = load(t, Options{ProjectDir: dir, Profiles: []string{"debug"}})
	ds := docs(t, p)
	eq(t, "with profile", len(ds), 2)
	eq(t, "debug image", ds["debug"].Container.Image, "busybox")
}

func TestMissingFilesAreNotRequired(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"compose.yaml": `services:
  built:
    build: ./does-not-exist
    env_file: missing.env
    secrets: [token]
    configs: [conf]
    volumes:
      - ./nowhere:/data
  net:
    image: busybox
    network_mode: host
    deploy:
      resources:
        limits:
          memory: 1g
  small:
    image: busybox
    mem_limit: 64m
secrets:
  token:
    file: ./missing-secret.txt
configs:
  conf:
    file: ./missing-config.txt
`,
	})
	p := load(t, Options{ProjectDir: dir})
	ds := docs(t, p)
	b := ds["built"]
	eq(t, "build-only image", b.Container.Image, "")
	eq(t, "build-only image ref", b.Image.Ref, "")
	eq(t, "build-only healthcheck", b.Container.Healthcheck.Form, input.FormAbsent)
	eq(t, "host network", ds["net"].Container.Network, input.Network{Mode: "host"})
	eq(t, "deploy memory", ds["net"].Container.MemoryBytes, int64(1<<30))
	eq(t, "mem_limit", ds["small"].Container.MemoryBytes, int64(64<<20))
}

func TestMalformedFileIsNamed(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"compose.yaml": "services:\n  app:\n    image: x\n",
		"broken.yaml":  "services:\n  app:\n    image: [unclosed\n",
		"invalid.yaml": "services:\n  app:\n    healthcheck:\n      retries: many\n",
	})
	for _, f := range []string{"broken.yaml", "invalid.yaml"} {
		_, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, f)}})
		if err == nil || !strings.Contains(err.Error(), f) || strings.Contains(err.Error(), "compose.yaml") {
			t.Errorf("%s: error %v does not name the file alone", f, err)
		}
	}
	// Alone, a file is named even when compose does not name it.
	_, err := Load(context.Background(), Options{Files: []string{filepath.Join(dir, "invalid.yaml")}})
	if err == nil || !strings.Contains(err.Error(), "invalid.yaml") {
		t.Errorf("error %v does not name the file", err)
	}
	_, err = Load(context.Background(), Options{ProjectDir: t.TempDir()})
	if err == nil {
		t.Error("no compose file: no error")
	}
}

func TestPositionAnchorsAndShortDependsOn(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"compose.yaml": `x-health: &health
  healthcheck:
    test: ["CMD", "curl", "-f", "http://localhost/"]
services:
  db:
    image: postgres
  web:
    <<: *health
    image: nginx
    depends_on: [db]
`,
	})
	p := load(t, Options{ProjectDir: dir})
	eq(t, "merged healthcheck", docs(t, p)["web"].Container.Healthcheck.Program, "curl")
	_, line, col := p.Position("web", "healthcheck", "test")
	eq(t, "anchored test", [2]int{line, col}, [2]int{3, 11})
	_, line, col = p.Position("web", "depends_on", "db")
	eq(t, "short depends_on", [2]int{line, col}, [2]int{10, 18})
}

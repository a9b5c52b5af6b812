//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/testtree"
)

// The loader comparison: `authz check` must load every compose project
// exactly as docker compose v2 does (internal/compose.Load). Each project
// of the corpus is loaded twice, in the same directory, with the same
// controlled environment and the same flags: by the real `docker compose
// config --format json`, and by composeload (internal/e2e/composeload),
// which prints what internal/compose loaded. The services must be the same,
// with the same image, healthcheck, network_mode, depends_on conditions,
// entrypoint and command; a project that one refuses the other must
// refuse too.
//
// It needs no dockerd, only the docker CLI with the compose v2 plugin,
// which .ci/compose-v2.sh builds and installs.

// composeCorpus are the directories of compose projects compared, under
// testdata: real projects, and the loader fixtures of docker compose and
// compose-go (testdata/compose-fixtures/*/SOURCE says which versions).
var composeCorpus = []string{"awesome-compose", "compose-fixtures/docker-compose", "compose-fixtures/compose-go", "compose"}

// composeNotCompared are corpus files that are not projects of their own,
// with the reason; a file with "override" in its name is always compared
// with its base file only (in its directory's project).
var composeNotCompared = map[string]string{
	"compose-fixtures/compose-go/loader/include/dir/": "the project of compose.yaml below",
	"compose-fixtures/compose-go/loader/include/dir/compose.yaml": "included by include/project-directory.yaml, which gives the env_file it needs; " +
		"docker compose reads a service's env_file and fails on the missing one, authz check never reads env_file (it would only feed the environment, which is not checked)",
}

// composeKnownDifferences are differences between docker compose v2.40.3,
// which vendors compose-go v2.9.1, and authz check, which uses a later
// compose-go (go.mod): the loader changed in between, not the options.
// Each is asserted, so that an upgrade of either side that removes it
// fails here and the entry goes. None is known on this corpus. The
// changes in compose-go's options between the two versions are outside
// it: COMPOSE_FILE naming a missing or non-regular file is refused when
// the option is applied, with the variable named, rather than when the
// file is read (both refuse the project), and a default .env that cannot
// even be stat'ed for lack of permission is skipped with a warning
// rather than failing the load (authz follows the later compose-go).
var composeKnownDifferences = map[string]string{}

// dockerComposeCLI runs the real docker compose v2 in a controlled
// environment.
type dockerComposeCLI struct {
	home      string // HOME and the docker config directory (with the plugin)
	configDir string
	loader    string // the composeload binary
	version   string
}

var (
	composeCLIOnce sync.Once
	composeCLI     *dockerComposeCLI
	composeCLIErr  error
	composeLoadErr error
)

// requireComposeV2 returns the docker compose v2 runner, failing the test
// (never skipping it) when the docker CLI has no compose v2 plugin.
func requireComposeV2(t *testing.T) *dockerComposeCLI {
	t.Helper()
	composeCLIOnce.Do(func() {
		composeCLI, composeCLIErr = newDockerComposeCLI()
		if composeCLIErr == nil {
			composeLoadErr = composeCLI.buildComposeLoad()
		}
	})
	if composeCLIErr != nil {
		t.Fatalf("docker compose v2 is required for the loader comparison: %v\nrun .ci/compose-v2.sh: it builds docker compose v2 and installs it as a docker CLI plugin", composeCLIErr)
	}
	if composeLoadErr != nil {
		t.Fatalf("building internal/e2e/composeload: %v", composeLoadErr)
	}
	return composeCLI
}

func newDockerComposeCLI() (*dockerComposeCLI, error) {
	if _, err := exec.LookPath("docker"); err != nil {
		return nil, fmt.Errorf("no docker CLI: %w", err)
	}
	out, err := exec.Command("docker", "compose", "version", "--short").CombinedOutput()
	version := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(strings.TrimPrefix(version, "v"), "2.") {
		return nil, fmt.Errorf("`docker compose version` says %q (%v), want v2", version, err)
	}
	plugin, err := findComposePlugin()
	if err != nil {
		return nil, fmt.Errorf("docker compose %s answers, but: %w", version, err)
	}
	home, err := os.MkdirTemp("", "compose-config-home-")
	if err != nil {
		return nil, err
	}
	c := &dockerComposeCLI{home: home, configDir: filepath.Join(home, ".docker")}
	if err := linkComposePlugin(c.configDir, plugin); err != nil {
		return nil, err
	}
	// The same plugin must answer in the controlled environment.
	cmd := exec.Command("docker", "compose", "version", "--short")
	cmd.Env = c.env(home)
	out, err = cmd.CombinedOutput()
	c.version = strings.TrimSpace(string(out))
	if err != nil || c.version != version {
		return nil, fmt.Errorf("docker compose in a clean environment says %q (%v), want %s", out, err, version)
	}
	return c, nil
}

// buildComposeLoad builds composeload into c's directory.
func (c *dockerComposeCLI) buildComposeLoad() error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	c.loader = filepath.Join(c.home, "composeload")
	build := exec.Command("go", "build", "-o", c.loader, "./internal/e2e/composeload")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// env is the controlled environment of both loaders run in dir: no
// variable of the test runner's (no COMPOSE_*, no DOCKER_HOST), HOME in a
// temporary directory, PWD set to dir, plus extra.
func (c *dockerComposeCLI) env(dir string, extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.home,
		"DOCKER_CONFIG=" + c.configDir,
		"PWD=" + dir,
	}, extra...)
}

// loadedProject is the part of a loaded project that is compared: what the
// policies read from a compose service.
type loadedProject struct {
	Name     string                   `json:"name"`
	Services map[string]loadedService `json:"services"`
}

type loadedService struct {
	Image       string                      `json:"image"`
	Healthcheck *loadedHealthcheck          `json:"healthcheck"`
	NetworkMode string                      `json:"network_mode"`
	DependsOn   map[string]loadedDependency `json:"depends_on"`
	Entrypoint  *[]string                   `json:"entrypoint"`
	Command     *[]string                   `json:"command"`
}

type loadedHealthcheck struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval"`
	Timeout     string   `json:"timeout"`
	Retries     *uint64  `json:"retries"`
	StartPeriod string   `json:"start_period"`
	Disable     bool     `json:"disable"`
}

type loadedDependency struct {
	Condition string `json:"condition"`
	Required  bool   `json:"required"`
}

// loadBoth loads the project that args name, in dir with the extra
// environment, with docker compose and with authz check's loader.
func (c *dockerComposeCLI) loadBoth(dir string, extra []string, args ...string) (docker, ours *loadedProject, dockerErr, oursErr error) {
	docker, dockerErr = c.run(dir, extra, "docker", append(append([]string{"compose"}, args...), "config", "--format", "json")...)
	ours, oursErr = c.run(dir, extra, c.loader, args...)
	return
}

func (c *dockerComposeCLI) run(dir string, extra []string, name string, args ...string) (*loadedProject, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = c.env(dir, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %s", filepath.Base(name), err, lastLine(stderr.String()))
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s: still running after a minute", filepath.Base(name))
	}
	out := stdout.Bytes()
	if name == "docker" {
		// docker compose config escapes every "$" of its output as "$$",
		// so that the output loads again as the same project: undo it.
		out = bytes.ReplaceAll(out, []byte("$$"), []byte("$"))
	}
	var p loadedProject
	if err := json.Unmarshal(out, &p); err != nil {
		return nil, fmt.Errorf("%s: output is not a project: %v", filepath.Base(name), err)
	}
	return &p, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// diffProjects lists what differs between docker compose's project and
// ours, one line each; withName compares the project names too.
func diffProjects(docker, ours *loadedProject, withName bool) []string {
	var diffs []string
	if withName && docker.Name != ours.Name {
		diffs = append(diffs, fmt.Sprintf("name: docker compose %q, authz %q", docker.Name, ours.Name))
	}
	names := map[string]bool{}
	for n := range docker.Services {
		names[n] = true
	}
	for n := range ours.Services {
		names[n] = true
	}
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	}) {
		d, inDocker := docker.Services[n]
		o, inOurs := ours.Services[n]
		switch {
		case !inDocker:
			diffs = append(diffs, fmt.Sprintf("service %s: only authz loads it", n))
		case !inOurs:
			diffs = append(diffs, fmt.Sprintf("service %s: only docker compose loads it", n))
		default:
			dv, ov := reflect.ValueOf(d), reflect.ValueOf(o)
			for i := 0; i < dv.NumField(); i++ {
				if !reflect.DeepEqual(dv.Field(i).Interface(), ov.Field(i).Interface()) {
					dj, _ := json.Marshal(dv.Field(i).Interface())
					oj, _ := json.Marshal(ov.Field(i).Interface())
					diffs = append(diffs, fmt.Sprintf("service %s: %s: docker compose %s, authz %s", n, dv.Type().Field(i).Name, dj, oj))
				}
			}
		}
	}
	return diffs
}

// composeCase is one project to load: in Dir, with Args (docker compose's
// global flags) and Env added to the controlled environment.
type composeCase struct {
	Name string
	Dir  string
	Args []string
	Env  []string
	// WithName compares the project name (cases without -p).
	WithName bool
}

// compare loads c with both loaders and reports any difference, or the
// known difference that is no longer there.
func (cli *dockerComposeCLI) compare(t *testing.T, c composeCase) (loaded bool) {
	t.Helper()
	docker, ours, dockerErr, oursErr := cli.loadBoth(c.Dir, c.Env, c.Args...)
	var diffs []string
	switch {
	case dockerErr != nil && oursErr != nil:
		t.Logf("%s: both refuse it: docker compose: %v; authz: %v", c.Name, dockerErr, oursErr)
		return false
	case dockerErr != nil:
		diffs = []string{"docker compose refuses it (" + dockerErr.Error() + "), authz loads it"}
	case oursErr != nil:
		diffs = []string{"docker compose loads it, authz refuses it (" + oursErr.Error() + ")"}
	default:
		diffs = diffProjects(docker, ours, c.WithName)
	}
	known, isKnown := composeKnownDifferences[c.Name]
	got := strings.Join(diffs, "\n")
	switch {
	case isKnown && got == "":
		t.Errorf("%s: the known difference (%s) is gone: remove it from composeKnownDifferences", c.Name, known)
	case isKnown && !strings.Contains(got, known):
		t.Errorf("%s: differs from docker compose %s in another way than the known difference (%s):\n%s", c.Name, cli.version, known, got)
	case !isKnown && got != "":
		t.Errorf("%s (in %s, args %q, env %q): differs from docker compose %s:\n%s", c.Name, c.Dir, c.Args, c.Env, cli.version, got)
	}
	return dockerErr == nil
}

// composeCorpusCases are the corpus projects: each directory that holds a
// compose file docker compose finds by itself (with its override file and
// .env), and each other compose file alone (-f, in its directory).
func composeCorpusCases(t *testing.T) []composeCase {
	t.Helper()
	testdata, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	defaults := []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}
	var cases []composeCase
	for _, root := range composeCorpus {
		err := filepath.WalkDir(filepath.Join(testdata, root), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(testdata, path)
			if d.IsDir() {
				for _, name := range defaults {
					if _, err := os.Stat(filepath.Join(path, name)); err == nil {
						if _, skip := composeNotCompared[rel+"/"]; !skip {
							cases = append(cases, composeCase{Name: rel + "/", Dir: path, Args: []string{"-p", "fixture"}})
						}
						break
					}
				}
				return nil
			}
			ext := filepath.Ext(path)
			if ext != ".yaml" && ext != ".yml" || strings.Contains(d.Name(), "override") {
				return nil
			}
			if _, skip := composeNotCompared[rel]; skip {
				return nil
			}
			if len(cases) > 0 && cases[len(cases)-1].Dir == filepath.Dir(path) && foundByDefault(filepath.Dir(path), d.Name(), defaults) && !hasOverride(filepath.Dir(path)) {
				return nil // the same project as its directory's case
			}
			cases = append(cases, composeCase{Name: rel, Dir: filepath.Dir(path), Args: []string{"-p", "fixture", "-f", d.Name()}})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return cases
}

// foundByDefault reports whether name is the compose file docker compose
// picks by itself in dir: the first of defaults there.
func foundByDefault(dir, name string, defaults []string) bool {
	for _, d := range defaults {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			return d == name
		}
	}
	return false
}

// hasOverride reports whether dir has an override file docker compose
// loads with its compose file.
func hasOverride(dir string) bool {
	for _, d := range []string{"compose.override.yml", "compose.override.yaml", "docker-compose.override.yml", "docker-compose.override.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			return true
		}
	}
	return false
}

// TestComposeConfigCorpus compares the loaders on every corpus project.
func TestComposeConfigCorpus(t *testing.T) {
	cli := requireComposeV2(t)
	cases := composeCorpusCases(t)
	if len(cases) < 150 {
		t.Fatalf("only %d corpus cases: is testdata complete?", len(cases))
	}
	// Two loaders start per case, each a fraction of a second of CPU:
	// keep every core busy.
	var loaded atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for _, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if cli.compare(t, c) {
				loaded.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d projects compared with docker compose %s, %d of them loaded by both", len(cases), cli.version, loaded.Load())
	if int(loaded.Load()) < len(cases)*9/10 {
		t.Errorf("only %d of %d projects load: the comparison proves little", loaded.Load(), len(cases))
	}
	for name := range composeKnownDifferences {
		if !slices.ContainsFunc(cases, func(c composeCase) bool { return c.Name == name }) && !strings.HasPrefix(name, "env/") {
			t.Errorf("known difference %q names no case", name)
		}
	}
}

// TestComposeConfigEnvironment compares the loaders where the environment
// and the env files decide: COMPOSE_PROFILES (environment and .env) and
// --profile, the .env of a parent directory when run from a
// subdirectory, COMPOSE_FILE and COMPOSE_PATH_SEPARATOR,
// COMPOSE_PROJECT_NAME, COMPOSE_ENV_FILES, COMPOSE_DISABLE_ENV_FILE and
// the default project name.
func TestComposeConfigEnvironment(t *testing.T) {
	cli := requireComposeV2(t)
	profiled := `services:
  app:
    image: ${APP_IMAGE:-app}
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:${PORT:-80}/"]
      interval: ${INTERVAL:-30s}
  debug:
    image: busybox
    profiles: [debug]
    network_mode: service:app
    depends_on:
      app:
        condition: service_healthy
  metrics:
    image: prom/prometheus
    profiles: [metrics]
`
	plain := testtree.Write(t, map[string]string{"compose.yaml": profiled})
	dotenv := testtree.Write(t, map[string]string{"compose.yaml": profiled, ".env": "COMPOSE_PROFILES=metrics\nAPP_IMAGE=from-dotenv\n"})
	parent := testtree.Write(t, map[string]string{
		"compose.yaml":    profiled,
		".env":            "COMPOSE_PROFILES=debug\nAPP_IMAGE=from-parent\nPORT=8080\n",
		"sub/notes.txt":   "no compose file here\n",
		"sub/deeper/.env": "PORT=9090\nINTERVAL=5s\n",
		"other/.env":      "COMPOSE_PROFILES=metrics\n",
		"other/notes.txt": "",
	})
	files := testtree.Write(t, map[string]string{
		"base.yml":                 profiled,
		"prod.yml":                 "services:\n  app:\n    image: prod\n    entrypoint: [/bin/app]\n    command: [serve]\n",
		".env":                     "COMPOSE_FILE=base.yml|prod.yml\nCOMPOSE_PATH_SEPARATOR=|\nCOMPOSE_PROJECT_NAME=from-dotenv\n",
		"alt.env":                  "APP_IMAGE=from-alt-env\nCOMPOSE_PROFILES=debug\n",
		"My Project!/compose.yaml": "services:\n  s:\n    image: s\n",
	})
	named := testtree.Write(t, map[string]string{"compose.yaml": "name: from-file\n" + profiled})
	cases := []composeCase{
		{Name: "env/COMPOSE_PROFILES", Dir: plain, Env: []string{"COMPOSE_PROFILES=debug,metrics"}},
		{Name: "env/COMPOSE_PROFILES spaces", Dir: plain, Env: []string{"COMPOSE_PROFILES= debug , metrics"}},
		{Name: "env/COMPOSE_PROFILES in .env", Dir: dotenv},
		{Name: "env/environment wins over .env", Dir: dotenv, Env: []string{"COMPOSE_PROFILES=debug"}},
		{Name: "env/--profile replaces COMPOSE_PROFILES", Dir: dotenv, Args: []string{"--profile", "debug"}},
		{Name: "env/--profile '*'", Dir: plain, Args: []string{"--profile", "*"}},
		{Name: "env/parent .env from a subdirectory", Dir: filepath.Join(parent, "sub")},
		{Name: "env/both .env files from a subdirectory", Dir: filepath.Join(parent, "sub", "deeper")},
		{Name: "env/subdirectory .env COMPOSE_PROFILES", Dir: filepath.Join(parent, "other")},
		{Name: "env/--project-directory subdirectory", Dir: parent, Args: []string{"--project-directory", "sub/deeper"}},
		{Name: "env/COMPOSE_FILE in .env", Dir: files},
		{Name: "env/COMPOSE_FILE in the environment", Dir: files, Env: []string{"COMPOSE_FILE=base.yml"}},
		{Name: "env/COMPOSE_ENV_FILES", Dir: files, Env: []string{"COMPOSE_ENV_FILES=.env,alt.env"}},
		{Name: "env/--env-file", Dir: files, Args: []string{"--env-file", ".env", "--env-file", "alt.env"}},
		{Name: "env/COMPOSE_DISABLE_ENV_FILE", Dir: dotenv, Env: []string{"COMPOSE_DISABLE_ENV_FILE=true"}},
		{Name: "env/COMPOSE_PROJECT_NAME", Dir: named, Env: []string{"COMPOSE_PROJECT_NAME=from-env"}},
		{Name: "env/-p", Dir: named, Args: []string{"-p", "from-flag"}, Env: []string{"COMPOSE_PROJECT_NAME=from-env"}},
		{Name: "env/name in the file", Dir: named},
		{Name: "env/default name from the directory", Dir: filepath.Join(files, "My Project!")},
	}
	for _, c := range cases {
		c.WithName = true
		if !cli.compare(t, c) {
			t.Errorf("%s: neither loader loads it", c.Name)
		}
	}
}

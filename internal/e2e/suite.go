//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Suite is the environment every scenario runs in: the authz plugin, a
// private dockerd that consults it, and the images the scenarios use.
type Suite struct {
	// Root is the repository root (the directory holding go.mod).
	Root string
	// Dir is the suite's temporary directory. Unix socket paths must stay
	// under 108 bytes, so it is short and directly under /tmp.
	Dir string
	// PluginName is the name dockerd knows the plugin by (its spec file).
	PluginName string
	// Plugin is the plugin process.
	Plugin *Plugin
	// Daemon is the private dockerd.
	Daemon *Daemon
	// Docker runs docker and docker-compose against the private daemon only.
	Docker Runner

	mu    sync.Mutex
	state suiteState
}

// suiteState is everything teardown needs, kept in <Dir>/state.json so the
// reaper process can tear down after the test binary died.
type suiteState struct {
	// OwnerPID is the test binary's PID; .ci/run leaves a directory alone
	// while its owner runs.
	OwnerPID   int
	Dir        string
	SpecPath   string
	DockerHost string
	DaemonPID  int
	PluginPID  int
	// Projects maps each compose project brought up to its compose file.
	Projects map[string]string
	// Swarm tells that the daemon may be a swarm node (TestSwarm). Its swarm
	// state dies with the data root, but the docker_gwbridge interface that
	// swarm init creates on the host would outlive the daemon.
	Swarm bool `json:",omitempty"`
}

const (
	// reaperEnv tells a re-executed test binary to act as the reaper of the
	// suite whose directory is the variable's value.
	reaperEnv = "HARDENED_AUTHZ_E2E_REAPER"
	// specDir is where dockerd looks for legacy plugin spec files.
	specDir = "/etc/docker/plugins"
)

// The hardened images the scenarios use. The names mimic Docker Hardened
// Images; no registry is involved, they are imported from local rootfs tars.
const (
	// ImageNode is the shell-less app image (runtime tag).
	ImageNode = "dhi.io/node:25"
	// ImageNodeDev is the tag the compose seed uses: like a real -dev
	// variant, the app plus a shell and a few applets, but no curl. The
	// plugin indexes the image's files, so the fixture must really be what
	// the catalog says of the name.
	ImageNodeDev = "dhi.io/node:25-debian13-sfw-ent-dev"
	// ImageCurlDev has curl and sleep but no shell. Like the real image,
	// its entrypoint is curl and its command --help: without an entrypoint
	// of its own, a container of it prints curl's help and exits.
	ImageCurlDev = "dhi.io/curl:8-debian13-dev"
	// ImageCurl has curl only (entrypoint curl, command --help, as the real
	// image), no sleep and no shell.
	ImageCurl = "dhi.io/curl:8"
	// ImageBusyboxDev is a -dev style image with a shell (busybox sh, wget).
	ImageBusyboxDev = "dhi.io/busybox:1-dev"
	// ImageBusybox is the same busybox as the Docker Official Image's name
	// (docker.io/library/busybox): no hardened image by the catalog, so a
	// sidecar on it draws HA007.
	ImageBusybox = "busybox:1.37"
)

// reaperPipe is the write end of the reaper's stdin. It is never written or
// closed: the kernel closes it when this process dies, however it dies, and
// that end-of-file is the reaper's cue. Keeping it in a package variable
// stops the garbage collector from closing it early.
var reaperPipe io.WriteCloser

// NewSuite checks the prerequisites and sets the whole environment up. On
// error, whatever was started is torn down again.
func NewSuite() (s *Suite, err error) {
	if err := checkPrerequisites(); err != nil {
		return nil, err
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("/tmp", "hae-")
	if err != nil {
		return nil, err
	}
	s = &Suite{Root: root, Dir: dir, state: suiteState{OwnerPID: os.Getpid(), Dir: dir, Projects: map[string]string{}}}
	defer func() {
		if err != nil {
			if terr := s.Teardown(); terr != nil {
				err = fmt.Errorf("%w\n(teardown: %v)", err, terr)
			}
		}
	}()
	if err := s.saveState(); err != nil {
		return s, err
	}
	if err := startReaper(dir); err != nil {
		return s, err
	}
	if err := s.setup(); err != nil {
		return s, err
	}
	return s, nil
}

func (s *Suite) setup() error {
	start := time.Now()
	authzBin := filepath.Join(s.Dir, "bin", "authz")
	appBin := filepath.Join(s.Dir, "bin", "testapp")
	// Both must run in images without libc (the app in the test images,
	// authz in the managed plugin, TestManagedPlugin): static binaries, as
	// the README and the Dockerfile build authz.
	build := Runner{Dir: s.Root, Env: []string{"CGO_ENABLED=0"}}
	if res := build.Run(10*time.Minute, "go", "build", "-o", authzBin, "./cmd/authz"); !res.OK() {
		return fmt.Errorf("build the authz plugin:\n%s", res)
	}
	if res := build.Run(5*time.Minute, "go", "build", "-o", appBin, "./internal/e2e/testapp"); !res.OK() {
		return fmt.Errorf("build the test app:\n%s", res)
	}
	logf("built authz and testapp in %s", time.Since(start).Round(time.Millisecond))

	s.PluginName = "hardened-authz-e2e-" + randomHex(4)
	dockerHost := "unix://" + filepath.Join(s.Dir, "docker.sock")
	s.Plugin = &Plugin{
		Bin:        authzBin,
		Socket:     filepath.Join(s.Dir, "authz.sock"),
		DockerHost: dockerHost,
		LogPath:    filepath.Join(s.Dir, "plugin.log"),
		// The image index cache lives in the suite's directory, never in
		// the default /var/lib/hardened-authz, and teardown removes it.
		Extra: []string{"--plugin-name", s.PluginName, "--state-dir", filepath.Join(s.Dir, "state")},
	}
	// The plugin must answer before dockerd starts: a configured
	// authorization plugin that cannot be reached stops dockerd's startup.
	if err := s.StartPlugin(); err != nil {
		return err
	}

	// dockerd finds a legacy plugin by the spec file named after it.
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		return err
	}
	specPath := filepath.Join(specDir, s.PluginName+".spec")
	s.update(func(st *suiteState) { st.SpecPath = specPath; st.DockerHost = dockerHost })
	if err := os.WriteFile(specPath, []byte("unix://"+s.Plugin.Socket+"\n"), 0o644); err != nil {
		return err
	}

	// The plugin goes in daemon.json only, never --authorization-plugin: a
	// SIGHUP reload silently drops a plugin given only as a flag.
	cfg, err := json.MarshalIndent(map[string]any{
		"authorization-plugins": []string{s.PluginName},
		// Bounds how long a shutdown waits for containers that ignore
		// SIGTERM (`sleep infinity` as PID 1 does), so teardown is quick.
		"shutdown-timeout": 5,
	}, "", "  ")
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(s.Dir, "daemon.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return err
	}
	start = time.Now()
	s.Daemon, err = StartDaemon(s.Dir, cfgPath, 60*time.Second)
	if err != nil {
		return err
	}
	s.update(func(st *suiteState) { st.DaemonPID = s.Daemon.PID() })
	logf("dockerd ready on %s in %s (plugin %s)", s.Daemon.Socket, time.Since(start).Round(time.Millisecond), s.PluginName)

	s.Docker = dockerRunner(s.Dir, s.Daemon.Host())
	plugin, err := findComposePlugin()
	if err != nil {
		return err
	}
	if err := linkComposePlugin(filepath.Join(s.Dir, "docker-config"), plugin); err != nil {
		return err
	}

	start = time.Now()
	if err := s.importImages(filepath.Join(s.Dir, "images"), appBin); err != nil {
		return err
	}
	logf("images imported in %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	if err := s.importIndexImages(filepath.Join(s.Dir, "images"), appBin); err != nil {
		return err
	}
	logf("image-index images built in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// StartPlugin (re)starts the plugin process and records its PID for teardown.
func (s *Suite) StartPlugin() error {
	if err := s.Plugin.Start(30 * time.Second); err != nil {
		return err
	}
	s.update(func(st *suiteState) { st.PluginPID = s.Plugin.PID() })
	return nil
}

// importImages builds and imports every image of the suite.
func (s *Suite) importImages(dir, appBin string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	host := Runner{}
	path := "ENV PATH=/usr/local/bin:/usr/bin:/bin"

	app := NewRootfs()
	app.AddFile("/app", appBin, 0o755)

	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		return err
	}
	curlDev := NewRootfs()
	if err := curlDev.AddBinary(host, "/usr/bin/curl", "/usr/bin/curl"); err != nil {
		return err
	}
	// The sidecar pattern runs `sleep infinity` as the entrypoint.
	if err := curlDev.AddBinary(host, "/usr/bin/sleep", sleepBin); err != nil {
		return err
	}
	curl := NewRootfs()
	if err := curl.AddBinary(host, "/usr/bin/curl", "/usr/bin/curl"); err != nil {
		return err
	}

	busyboxBin, err := findBusybox()
	if err != nil {
		return err
	}
	busybox := NewRootfs()
	busybox.AddFile("/bin/busybox", busyboxBin, 0o755)
	for _, applet := range []string{"sh", "sleep", "wget", "httpd", "echo", "cat"} {
		busybox.AddSymlink("/bin/"+applet, "busybox")
	}
	appDev := NewRootfs()
	appDev.AddFile("/app", appBin, 0o755)
	appDev.AddFile("/bin/busybox", busyboxBin, 0o755)
	for _, applet := range []string{"sh", "sleep", "echo", "cat"} {
		appDev.AddSymlink("/bin/"+applet, "busybox")
	}

	images := []Image{
		{Tags: []string{ImageNode}, Rootfs: app,
			Changes: []string{`ENTRYPOINT ["/app"]`, path, "EXPOSE 3000"}},
		{Tags: []string{ImageNodeDev}, Rootfs: appDev,
			Changes: []string{`ENTRYPOINT ["/app"]`, path, "EXPOSE 3000"}},
		{Tags: []string{ImageCurlDev}, Rootfs: curlDev,
			Changes: []string{`ENTRYPOINT ["curl"]`, `CMD ["--help"]`, path}},
		{Tags: []string{ImageCurl}, Rootfs: curl,
			Changes: []string{`ENTRYPOINT ["curl"]`, `CMD ["--help"]`, path}},
		{Tags: []string{ImageBusyboxDev}, Rootfs: busybox,
			Changes: []string{`CMD ["sh"]`, path}},
		{Tags: []string{ImageBusybox}, Rootfs: busybox,
			Changes: []string{`CMD ["sh"]`, path}},
	}
	for _, img := range images {
		if err := img.Import(s.Docker, dir); err != nil {
			return err
		}
	}
	return nil
}

// RecordProject notes a compose project so teardown brings it down.
func (s *Suite) RecordProject(name, file string) {
	s.update(func(st *suiteState) { st.Projects[name] = file })
}

// ForgetProject drops a project that its test already brought down.
func (s *Suite) ForgetProject(name string) {
	s.update(func(st *suiteState) { delete(st.Projects, name) })
}

// RecordSwarm notes that the daemon is (about to be) a swarm node, so
// teardown leaves the swarm while the daemon is up.
func (s *Suite) RecordSwarm() {
	s.update(func(st *suiteState) { st.Swarm = true })
}

// ForgetSwarm drops the note once the test left the swarm itself.
func (s *Suite) ForgetSwarm() {
	s.update(func(st *suiteState) { st.Swarm = false })
}

// Teardown stops and removes everything the suite started or wrote. It is
// safe to call more than once.
func (s *Suite) Teardown() error {
	s.mu.Lock()
	st := s.state
	s.mu.Unlock()
	return teardown(st)
}

func (s *Suite) update(f func(*suiteState)) {
	s.mu.Lock()
	f(&s.state)
	s.mu.Unlock()
	if err := s.saveState(); err != nil {
		logf("cannot save suite state: %v", err)
	}
}

func (s *Suite) saveState() error {
	s.mu.Lock()
	data, err := json.MarshalIndent(s.state, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, "state.json.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.Dir, "state.json"))
}

// teardown works from the recorded state alone, so the suite and the reaper
// share it: compose projects down, dockerd stopped, plugin stopped, leftover
// mounts unmounted, spec file and directory removed. It goes on after an
// error and returns them all.
func teardown(st suiteState) error {
	if st.Dir == "" {
		return nil
	}
	var errs []error
	daemonUp := st.DaemonPID > 0 && processAlive(st.DaemonPID)
	// Every compose call goes through the plugin; with the plugin gone each
	// would stall ~15 s, and stopping dockerd stops the containers anyway.
	pluginUp := st.PluginPID > 0 && processAlive(st.PluginPID)
	if daemonUp && pluginUp {
		docker := dockerRunner(st.Dir, st.DockerHost)
		names := make([]string, 0, len(st.Projects))
		for name := range st.Projects {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			res := docker.Run(60*time.Second, "docker-compose", "-p", name, "-f", st.Projects[name], "down", "--volumes", "--remove-orphans", "--timeout", "2")
			if !res.OK() {
				errs = append(errs, fmt.Errorf("compose down %s:\n%s", name, res))
			}
		}
		if st.Swarm {
			// Swarm state goes with the data root; the host bridge does
			// not. "not part of a swarm" and "no such network" are fine.
			if res := docker.Run(60*time.Second, "docker", "swarm", "leave", "--force"); !res.OK() && !strings.Contains(res.Out, "not part of a swarm") {
				errs = append(errs, fmt.Errorf("swarm leave:\n%s", res))
			}
			if res := docker.Run(30*time.Second, "docker", "network", "rm", "docker_gwbridge"); !res.OK() && !strings.Contains(strings.ToLower(res.Out), "no such network") && !strings.Contains(strings.ToLower(res.Out), "not found") {
				errs = append(errs, fmt.Errorf("remove docker_gwbridge:\n%s", res))
			}
		}
	}
	if err := stopPID(st.DaemonPID, st.Dir, 30*time.Second); err != nil {
		errs = append(errs, fmt.Errorf("dockerd: %w", err))
	}
	if err := stopPID(st.PluginPID, st.Dir, 10*time.Second); err != nil {
		errs = append(errs, fmt.Errorf("plugin: %w", err))
	}
	if err := UnmountUnder(st.Dir); err != nil {
		errs = append(errs, err)
	}
	if st.SpecPath != "" {
		if err := os.Remove(st.SpecPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(st.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// dockerRunner runs docker, docker compose (v2) and docker-compose (1.29) against the daemon at host
// only, with a CLI configuration of the suite's own (under dir): no contexts,
// credential helpers, TLS settings or compose defaults of whoever runs the
// suite.
func dockerRunner(dir, host string) Runner {
	return Runner{Env: []string{
		"DOCKER_HOST=" + host,
		"DOCKER_CONFIG=" + filepath.Join(dir, "docker-config"),
		"DOCKER_CONTEXT=",
		"DOCKER_TLS_VERIFY=",
		"DOCKER_CERT_PATH=",
		"DOCKER_API_VERSION=",
		"COMPOSE_FILE=",
		"COMPOSE_PROJECT_NAME=",
		"DOCKER_CLI_HINTS=false",
	}}
}

// startReaper re-executes the test binary as a watchdog in its own process
// group. It waits for end-of-file on its stdin, which happens when this
// process dies in any way (a panic in a test goroutine, the -timeout panic,
// SIGKILL), and then tears the suite down from <dir>/state.json. After a
// normal teardown the directory is gone and the reaper just exits.
func startReaper(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), reaperEnv+"="+dir)
	// Its messages go to our stderr: go test shows them, and waits for the
	// reaper to finish before it reports.
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start reaper: %w", err)
	}
	reaperPipe = w
	// Reap it if it ends while we live; it normally outlives us.
	go func() { _ = cmd.Wait() }()
	return nil
}

// RunReaper is the body of the reaper process (see startReaper). It returns
// the process exit code.
func RunReaper(dir string) int {
	// Our stderr is a pipe that go test may close before we are done; a
	// write to it must not kill us halfway through the teardown.
	signal.Ignore(syscall.SIGPIPE)
	_, _ = io.Copy(io.Discard, os.Stdin)

	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return 0 // the suite tore itself down
	}
	var st suiteState
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil || st.Dir != dir {
		fmt.Fprintf(os.Stderr, "e2e reaper: unreadable state in %s: %v\n", dir, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e reaper: the test binary died without tearing down; tearing down %s\n", dir)
	if err := teardown(st); err != nil {
		fmt.Fprintf(os.Stderr, "e2e reaper: teardown: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e reaper: teardown done\n")
	return 0
}

// checkPrerequisites makes sure everything the suite needs is there. A
// missing piece is an error, never a reason to skip: CI must not pass
// without running the suite.
func checkPrerequisites() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (dockerd needs it)")
	}
	for _, bin := range []string{"go", "dockerd", "docker", "docker-compose", "busybox", "ldd", "sleep"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" in PATH")
		}
	}
	if _, err := os.Stat("/usr/bin/curl"); err != nil {
		missing = append(missing, "/usr/bin/curl")
	}
	if _, err := findComposePlugin(); err != nil {
		missing = append(missing, "docker compose v2 (.ci/compose-v2.sh builds and installs it)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing prerequisites: %s (on Debian: apt-get install -y docker.io docker-compose busybox-static curl; run as root)", strings.Join(missing, ", "))
	}
	return nil
}

// repoRoot walks up from the working directory to the directory with go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// logf prints a progress line of the suite's setup or teardown.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
}

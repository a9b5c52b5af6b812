// Package compose loads compose projects as docker compose does and turns
// each service into the policy input document (docs/input.md), so that
// `authz check` evaluates the same rules on compose files as the plugin
// does on dockerd requests.
package compose

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
)

// Options says which compose project to load, as docker compose's global
// flags and environment do.
type Options struct {
	// Files are the compose files (-f), in order: later files override
	// earlier ones. When empty, COMPOSE_FILE (split at
	// COMPOSE_PATH_SEPARATOR) names them, else compose.yaml, compose.yml,
	// docker-compose.yml or docker-compose.yaml (and its override file) is
	// looked up from ProjectDir (default: the current directory) upwards.
	Files []string
	// ProjectDir is the project directory (--project-directory); by default
	// the directory of the first file.
	ProjectDir string
	// ProjectName is the project name (-p); by default COMPOSE_PROJECT_NAME,
	// else the top-level name of the files, else the project directory's
	// name, as docker compose derives it.
	ProjectName string
	// EnvFiles are the interpolation environment files (--env-file); by
	// default COMPOSE_ENV_FILES (comma-separated), else the .env of the
	// working directory and the .env of the project directory once the
	// compose file is found (in a parent directory, say).
	EnvFiles []string
	// Profiles are the active profiles (--profile); by default
	// COMPOSE_PROFILES (comma-separated, from the environment or the env
	// files). Services with other profiles are left out; "*" enables all.
	Profiles []string
	// Env is the process environment, "KEY=value" entries; nil means this
	// process's (os.Environ). Tests and callers that load for someone else
	// give it to control interpolation and the COMPOSE_* variables.
	Env []string
}

// Project is a loaded compose project.
type Project struct {
	// Name is the project name, as docker compose derives it.
	Name string
	// Files are the compose files that were loaded, in order.
	Files []string
	// Model is the project as compose-go loaded it (interpolated, extended,
	// merged, normalized).
	Model *types.Project

	sources *sources
}

// Load loads a compose project the way docker compose (v2) does: the
// process environment and the env files feed interpolation and the
// COMPOSE_* variables, override files, `include` and `extends` are
// merged, and profiles select services. It never requires what only a
// build or a run needs (build contexts, the env_file or secret files of
// services, images). It refuses, before compose-go opens them, files
// that are not regular files or are larger than MaxFileSize, and remote
// `include` and `extends` (git, oci://), which it does not fetch. It
// returns ctx's error as soon as ctx is done. An error names the file it
// is about.
func Load(ctx context.Context, o Options) (*Project, error) {
	opts, err := projectOptions(o)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	if len(opts.ConfigPaths) == 0 {
		dir := o.ProjectDir
		if dir == "" {
			dir = "."
		}
		return nil, fmt.Errorf("compose: no compose file (%s) found in %s or its parents",
			strings.Join(cli.DefaultFileNames, ", "), dir)
	}
	workingDir, err := opts.GetWorkingDir()
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	srcs, err := walkSources(absPaths(opts.ConfigPaths), workingDir, opts.Environment)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	model, err := loadProject(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fileError(ctx, o, opts.ConfigPaths, err)
	}
	p := &Project{Name: model.Name, Files: model.ComposeFiles, Model: model, sources: srcs}
	return p, nil
}

// projectOptions are compose-go's options for o, in docker compose's
// order (its ProjectOptions.toProjectOptions), so that the same files,
// env files, profiles and name are found.
func projectOptions(o Options, extra ...cli.ProjectOptionsFn) (*cli.ProjectOptions, error) {
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	envFiles := o.EnvFiles
	if len(envFiles) == 0 {
		// docker compose takes --env-file's default from the process
		// environment only, when it parses its flags.
		envFiles = strings.FieldsFunc(lookup(env, composeEnvFiles), func(r rune) bool { return r == ',' })
	}
	// Before loading, docker compose exports the COMPOSE_* variables of
	// the env files that it finds without looking for the compose file
	// (the working directory's .env) into its own environment, where they
	// act as if set by the caller (COMPOSE_DISABLE_ENV_FILE among them).
	env = withDotEnvComposeVars(o, env, envFiles)
	process := types.NewMapping(env)

	opts := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(o.ProjectDir),
		// The process environment always wins over env files.
		cli.WithEnv(env),
	}
	if _, ok := process["PWD"]; !ok {
		if wd, err := os.Getwd(); err == nil {
			opts = append(opts, cli.WithEnv([]string{"PWD=" + wd}))
		}
	}
	opts = append(opts,
		withEnvFiles(envFiles, process),
		cli.WithDotEnv,
		// COMPOSE_FILE, from the environment or the working directory's .env.
		cli.WithConfigFileEnv,
		// Else compose.yaml and its override, here or in a parent directory.
		cli.WithDefaultConfigPath,
		// The project directory may only now be known (a parent
		// directory): its .env counts too, after the first one.
		withEnvFiles(envFiles, process),
		cli.WithDotEnv,
		// --profile, else COMPOSE_PROFILES, which the env files may set.
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithName(o.ProjectName),
		cli.WithResourceLoader(remoteRefusal{}),
		// A service's env_file is read only to compute its environment,
		// which is not in the document (it carries secrets): skip it, so
		// that a missing env_file does not fail the check.
		cli.WithoutEnvironmentResolution,
		// label_file is resolved by Load once its files are checked.
		cli.WithoutLabelsResolution,
	)
	return cli.NewProjectOptions(o.Files, append(opts, extra...)...)
}

// withEnvFiles is compose-go's WithEnvFiles (explicit files, else the
// working directory's .env unless COMPOSE_DISABLE_ENV_FILE), reading
// COMPOSE_DISABLE_ENV_FILE from process rather than from this process,
// and refusing env files that are not regular files or are too large
// before WithDotEnv opens them.
func withEnvFiles(files []string, process types.Mapping) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		if len(files) > 0 {
			o.EnvFiles = files
			return checkFiles(files, "env file")
		}
		if v, ok := process[consts.ComposeDisableDefaultEnvFile]; ok {
			disabled, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %w", consts.ComposeDisableDefaultEnvFile, err)
			}
			if disabled {
				return nil
			}
		}
		wd, err := o.GetWorkingDir()
		if err != nil {
			return err
		}
		dotEnv := filepath.Join(wd, ".env")
		st, err := os.Stat(dotEnv)
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
			// The default .env is a convenience: absent, or in a
			// directory this user cannot search, it is not read.
			return nil
		case err != nil:
			return err
		case st.IsDir():
			return nil
		}
		if err := checkFile(dotEnv, "env file"); err != nil {
			return err
		}
		o.EnvFiles = []string{dotEnv}
		return nil
	}
}

// withDotEnvComposeVars is env plus the COMPOSE_* variables that the env
// files docker compose reads first set and env does not.
func withDotEnvComposeVars(o Options, env, envFiles []string) []string {
	process := types.NewMapping(env)
	opts, err := cli.NewProjectOptions(o.Files,
		cli.WithWorkingDirectory(o.ProjectDir),
		cli.WithEnv(env),
		withEnvFiles(envFiles, process),
	)
	if err != nil {
		return env // docker compose ignores these errors here too
	}
	vars, err := dotenv.GetEnvFromFile(process, opts.EnvFiles)
	if err != nil {
		return env
	}
	out := slices.Clone(env)
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if _, set := process[k]; !set && strings.HasPrefix(k, "COMPOSE_") {
			out = append(out, k+"="+vars[k])
		}
	}
	return out
}

// composeEnvFiles is docker compose's default for --env-file.
const composeEnvFiles = "COMPOSE_ENV_FILES"

func lookup(env []string, key string) string {
	return types.NewMapping(env)[key]
}

// loadProject runs compose-go's loader and resolves the services'
// label_file once checked. It returns as soon as ctx is done, even when
// compose-go is stuck in a read, which then ends with the process.
func loadProject(ctx context.Context, opts *cli.ProjectOptions) (*types.Project, error) {
	type result struct {
		p   *types.Project
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := opts.LoadProject(ctx)
		if err == nil {
			for _, name := range slices.Sorted(maps.Keys(p.Services)) {
				if err = checkFiles(p.Services[name].LabelFiles, "label file of service "+strconv.Quote(name)); err != nil {
					break
				}
			}
		}
		if err == nil {
			p, err = p.WithServicesLabelsResolved(false)
		}
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// absPaths makes local paths absolute, as compose-go does.
func absPaths(files []string) []string {
	out := make([]string, 0, len(files))
	for _, f := range files {
		if f != "-" && remoteKind(f) == "" {
			if abs, err := filepath.Abs(f); err == nil {
				f = abs
			}
		}
		out = append(out, f)
	}
	return out
}

// fileError makes sure a load error names the compose file it is about:
// compose-go's parse errors do, but its interpolation and validation errors
// do not. With several files, the culprit is the first that fails to parse
// as YAML, else the first that fails to load on its own (consistency
// checks off, as an override file is rarely complete alone); when none
// does, the error is about their combination and names them all. A
// single file that is incomplete alone and looks like an override file
// gets a hint to check it with its base file.
func fileError(ctx context.Context, o Options, files []string, err error) error {
	var remote *RemoteError
	if errors.As(err, &remote) {
		return fmt.Errorf("compose: %w", err)
	}
	if len(files) == 1 {
		if hint := overrideHint(files[0], err); hint != "" {
			return fmt.Errorf("compose: %s: %w; %s", files[0], err, hint)
		}
	}
	msg := err.Error()
	for _, f := range files {
		if strings.Contains(msg, f) {
			return fmt.Errorf("compose: %w", err)
		}
	}
	if len(files) > 1 {
		for _, f := range files {
			b, rerr := os.ReadFile(f)
			var n yaml.Node
			if rerr == nil && yaml.Unmarshal(b, &n) != nil {
				return fmt.Errorf("compose: %s: %w", f, err)
			}
		}
		for _, f := range files {
			if !loadsAlone(ctx, o, f) {
				return fmt.Errorf("compose: %s: %w", f, err)
			}
		}
	}
	return fmt.Errorf("compose: %s: %w", strings.Join(files, ", "), err)
}

// overrideHint says how to check file when it failed to load alone
// because it is incomplete (a service without image or build) and its
// name says it is an override file (docker-compose.override.yml,
// compose.prod.override.yaml…): with the file it overrides first.
func overrideHint(file string, err error) string {
	if !strings.Contains(err.Error(), "neither an image nor a build context") ||
		!strings.Contains(strings.ToLower(filepath.Base(file)), "override") {
		return ""
	}
	base := "<base file>"
	dir := filepath.Dir(file)
	for _, name := range cli.DefaultFileNames {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode().IsRegular() {
			base = filepath.Join(dir, name)
			break
		}
	}
	return fmt.Sprintf("it is an override file, incomplete alone: check it with the file it overrides: authz check -f %s -f %s", base, file)
}

// loadsAlone reports whether one compose file loads by itself with o's
// environment.
func loadsAlone(ctx context.Context, o Options, file string) bool {
	alone := o
	alone.Files = []string{file}
	opts, err := projectOptions(alone, cli.WithConsistency(false))
	if err != nil {
		return false
	}
	_, err = loadProject(ctx, opts)
	return err == nil
}

// Services returns the project's service names, sorted.
func (p *Project) Services() []string {
	names := make([]string, 0, len(p.Model.Services))
	for name := range p.Model.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Document builds a service's document through input.WithImage, as if
// docker compose had sent the service's create request for img: the
// image's entrypoint, command, environment and healthcheck are merged in
// as dockerd merges them, and its files answer when img has an index. The document has no Project; the
// caller adds it once it has every service's document.
func (p *Project) Document(service string, img imagefacts.Image) input.Document {
	return p.document(service, img, false)
}

// StackLabel is the label `docker stack deploy` sets on a stack's services
// and their task containers: the stack's name.
const StackLabel = "com.docker.stack.namespace"

// StackDocument builds a service's document as the plugin sees it when
// `docker stack deploy` creates the service, the project's name standing
// for the stack's (CI does not know the name given at deploy): action
// service.create, service {name: "<project>_<service>", stack: project},
// the container named as the service and labelled with the stack. There is
// no container.compose, so no depends_on (swarm ignores it). The
// network_mode is kept as the file sets it, so that a rule can report a
// "service:" mode that a stack cannot have; the plugin itself always sees
// mode default for a service.
func (p *Project) StackDocument(service string, img imagefacts.Image) input.Document {
	return p.document(service, img, true)
}

// StackServiceName is the name `docker stack deploy` gives service of the
// project deployed as a stack of the project's name.
func (p *Project) StackServiceName(service string) string { return p.Name + "_" + service }

func (p *Project) document(service string, img imagefacts.Image, stack bool) input.Document {
	s := p.Model.Services[service]
	req := &container.CreateRequest{
		Config: &container.Config{
			Image:       s.Image,
			Entrypoint:  s.Entrypoint,
			Cmd:         s.Command,
			User:        s.User,
			Labels:      copyMap(s.Labels),
			Healthcheck: healthConfig(s.HealthCheck),
			WorkingDir:  s.WorkingDir,
			Env:         environment(s.Environment),
		},
		HostConfig: &container.HostConfig{
			NetworkMode:  container.NetworkMode(networkMode(s.NetworkMode)),
			Resources:    container.Resources{Memory: memoryBytes(s)},
			PortBindings: portBindings(s.Ports),
			Mounts:       mounts(s.Volumes),
			Tmpfs:        tmpfs(s.Tmpfs),
		},
	}
	if stack {
		if req.Config.Labels == nil {
			req.Config.Labels = map[string]string{}
		}
		req.Config.Labels[StackLabel] = p.Name
		name := p.StackServiceName(service)
		d := input.Document{Source: input.SourceCompose, Action: input.ActionServiceCreate}.WithImage(name, req, img)
		return d.WithService(name, p.Name)
	}
	d := input.Document{Source: input.SourceCompose, Action: input.ActionContainerCreate}.WithImage(service, req, img)
	c := d.Container
	c.Compose = &input.Compose{Project: p.Name, Service: service, DependsOn: dependsOn(s.DependsOn)}
	if target, ok := strings.CutPrefix(s.NetworkMode, types.ServicePrefix); ok {
		// Another service of the project: known without asking the daemon.
		// A plain "container:x" stays unresolved.
		if t, ok := p.Model.Services[target]; ok {
			c.Network.Container = &input.NetworkContainer{
				Found:   true,
				Name:    target,
				Image:   t.Image,
				Compose: &input.Compose{Project: p.Name, Service: target},
			}
		} else {
			c.Network.Container = &input.NetworkContainer{
				Error: fmt.Sprintf("service %q is not in project %q", target, p.Name),
			}
		}
	}
	return d
}

// mounts are a service's volumes (long form after compose-go's loader)
// as docker compose sends them: one mount per entry, of its type.
func mounts(vols []types.ServiceVolumeConfig) []mount.Mount {
	var ms []mount.Mount
	for _, v := range vols {
		ms = append(ms, mount.Mount{Type: mount.Type(v.Type), Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly})
	}
	return ms
}

// tmpfs is a service's tmpfs list as HostConfig.Tmpfs: "target[:options]"
// split at the first colon, as docker compose does.
func tmpfs(list types.StringList) map[string]string {
	if len(list) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, t := range list {
		target, opts, _ := strings.Cut(t, ":")
		m[target] = opts
	}
	return m
}

// dependsOn copies compose's depends_on; compose-go has already turned
// the short (list) form into conditions (service_started).
func dependsOn(deps types.DependsOnConfig) map[string]input.Dependency {
	if len(deps) == 0 {
		return nil
	}
	m := make(map[string]input.Dependency, len(deps))
	for name, d := range deps {
		m[name] = input.Dependency{Condition: d.Condition, Required: d.Required}
	}
	return m
}

// healthConfig turns a service's healthcheck into the create request's, as
// docker compose does: `disable: true` is a NONE test; compose-go has
// already turned the string form into CMD-SHELL.
func healthConfig(h *types.HealthCheckConfig) *container.HealthConfig {
	if h == nil {
		return nil
	}
	hc := &container.HealthConfig{Test: h.Test}
	if h.Disable {
		hc.Test = []string{"NONE"}
	}
	hc.Interval = duration(h.Interval)
	hc.Timeout = duration(h.Timeout)
	hc.StartPeriod = duration(h.StartPeriod)
	hc.StartInterval = duration(h.StartInterval)
	if h.Retries != nil {
		hc.Retries = int(*h.Retries)
	}
	return hc
}

func duration(d *types.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(*d)
}

// networkMode maps compose's network_mode to HostConfig.NetworkMode:
// "service:app" joins that service's container, which the document names
// by service.
func networkMode(mode string) string {
	if svc, ok := strings.CutPrefix(mode, types.ServicePrefix); ok {
		return types.ContainerPrefix + svc
	}
	return mode
}

// memoryBytes is deploy.resources.limits.memory, else mem_limit.
func memoryBytes(s types.ServiceConfig) int64 {
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil && s.Deploy.Resources.Limits.MemoryBytes > 0 {
		return int64(s.Deploy.Resources.Limits.MemoryBytes)
	}
	return int64(s.MemLimit)
}

// portBindings turns the service's published ports into the create
// request's bindings. Ports that are only exposed (no published port)
// are left out, as dockerd's PortBindings leaves them out.
func portBindings(ports []types.ServicePortConfig) network.PortMap {
	m := network.PortMap{}
	for _, sp := range ports {
		proto := sp.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port, err := network.ParsePort(strconv.FormatUint(uint64(sp.Target), 10) + "/" + proto)
		if err != nil {
			continue
		}
		b := network.PortBinding{HostPort: sp.Published}
		if ip, err := netip.ParseAddr(sp.HostIP); err == nil {
			b.HostIP = ip
		}
		m[port] = append(m[port], b)
	}
	return m
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// environment is the service's environment as docker compose sends it:
// "KEY=value", or "KEY" alone for a variable with no value, which unsets
// it in the container (PATH included), in a stable order.
func environment(env types.MappingWithEquals) []string {
	keys := slices.Sorted(maps.Keys(env))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if v := env[k]; v != nil {
			out = append(out, k+"="+*v)
		} else {
			out = append(out, k)
		}
	}
	return out
}

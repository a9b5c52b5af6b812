// Package compose loads compose projects as docker compose does and turns
// each service into the policy input document (docs/input.md), so that
// `authz check` evaluates the same rules on compose files as the plugin
// does on dockerd requests.
package compose

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
)

// Options says which compose project to load, as docker compose's global
// flags do.
type Options struct {
	// Files are the compose files (-f), in order: later files override
	// earlier ones. When empty, compose.yaml, compose.yml,
	// docker-compose.yml or docker-compose.yaml (and its override file) is
	// looked up from ProjectDir upwards.
	Files []string
	// ProjectDir is the project directory (--project-directory); by default
	// the directory of the first file.
	ProjectDir string
	// EnvFiles are the interpolation environment files (--env-file); by
	// default the project directory's .env, when present.
	EnvFiles []string
	// Profiles are the active profiles (--profile); services with other
	// profiles are left out.
	Profiles []string
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

	positions *positions
}

// Load loads a compose project the way docker compose does: the process
// environment and the env files feed interpolation, override files and
// `extends` are merged, and profiles select services. It never requires
// what only a build or a run needs (build contexts, the env_file or
// secret files of services, images). An error from compose names the file
// it is about.
func Load(ctx context.Context, o Options) (*Project, error) {
	opts, err := cli.NewProjectOptions(o.Files,
		cli.WithWorkingDirectory(o.ProjectDir),
		cli.WithOsEnv,
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithProfiles(o.Profiles),
		// A service's env_file is read only to compute its environment,
		// which is not in the document (it carries secrets): skip it, so
		// that a missing env_file does not fail the check.
		cli.WithoutEnvironmentResolution,
	)
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
	model, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fileError(ctx, o, opts.ConfigPaths, err)
	}
	p := &Project{Name: model.Name, Files: model.ComposeFiles, Model: model}
	p.positions = parsePositions(p.Files)
	return p, nil
}

// fileError makes sure a load error names the compose file it is about:
// compose-go's parse errors do, but its interpolation and validation errors
// do not. With several files, the culprit is the first that fails to parse
// as YAML, else the first that fails to load on its own (consistency
// checks off, as an override file is rarely complete alone); when none
// does, the error is about their combination and names them all.
func fileError(ctx context.Context, o Options, files []string, err error) error {
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

// loadsAlone reports whether one compose file loads by itself with o's
// environment.
func loadsAlone(ctx context.Context, o Options, file string) bool {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(o.ProjectDir),
		cli.WithOsEnv,
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithProfiles(o.Profiles),
		cli.WithoutEnvironmentResolution,
		cli.WithConsistency(false),
	)
	if err != nil {
		return false
	}
	_, err = opts.LoadProject(ctx)
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

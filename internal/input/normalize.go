package input

import (
	"regexp"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
)

// Compose labels that identify a container's project and service.
const (
	LabelComposeProject = "com.docker.compose.project"
	LabelComposeService = "com.docker.compose.service"
)

// DefaultPath is the PATH a container gets when neither the request nor the
// image sets one (the value runc and dockerd use).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// WithCreate adds the container a create request describes, merged with its
// image's configuration the way dockerd merges them, and the image facts.
// authz check turns each compose service into a create request that comes
// through here too, so a service and its dockerd create read the same to a
// rule.
func (d Document) WithCreate(name string, req *container.CreateRequest, img imagefacts.Facts) Document {
	cfg, host := req.Config, req.HostConfig
	c := &Container{
		Name:        name,
		Image:       cfg.Image,
		User:        cfg.User,
		Labels:      nonNilMap(cfg.Labels),
		Network:     networkOf(string(host.NetworkMode)),
		MemoryBytes: host.Memory,
		Ports:       portsOf(host),
	}
	if c.User == "" {
		c.User = img.User
	}
	c.Entrypoint, c.Command = commandOf(cfg, img)
	c.Path = pathOf(cfg.Env, img.Env)
	c.Healthcheck = healthcheckOf(cfg, img)
	c.Compose = composeOf(cfg.Labels)
	d.Container = c
	d.Image = &Image{
		Ref:        img.Ref,
		Repository: img.Repository,
		Tag:        img.Tag,
		Digest:     img.Digest,
		Source:     img.Source,
		Found:      img.Found,
		ID:         img.ID,
		Labels:     nonNilMap(img.Labels),
		Shell:      nonNil(img.Shell),
		Error:      img.Err,
	}
	return d
}

// composeOf identifies a compose container by its labels; nil when either
// label is missing.
func composeOf(labels map[string]string) *Compose {
	p, s := labels[LabelComposeProject], labels[LabelComposeService]
	if p == "" || s == "" {
		return nil
	}
	return &Compose{Project: p, Service: s}
}

// commandOf merges entrypoint and command as dockerd does: a request
// without an entrypoint takes the image's, and takes the image's command
// too unless it sets its own.
func commandOf(cfg *container.Config, img imagefacts.Facts) (entrypoint, command []string) {
	entrypoint, command = cfg.Entrypoint, cfg.Cmd
	if len(entrypoint) == 0 {
		if len(command) == 0 {
			command = img.Cmd
		}
		if entrypoint == nil {
			entrypoint = img.Entrypoint
		}
	}
	return nonNil(entrypoint), nonNil(command)
}

// pathOf returns the directories of the effective PATH: the request's
// Env entry, else the image's, else DefaultPath.
func pathOf(reqEnv, imgEnv []string) []string {
	p, ok := lookupEnv(reqEnv, "PATH")
	if !ok {
		p, ok = lookupEnv(imgEnv, "PATH")
	}
	if !ok {
		p = DefaultPath
	}
	dirs := []string{}
	for _, dir := range strings.Split(p, ":") {
		if dir != "" {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// lookupEnv finds the last KEY=value entry, as the last one wins in a
// process environment built by dockerd.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// healthcheckOf returns the effective healthcheck: dockerd takes the image's
// healthcheck when the request has none, and fills every zero field of the
// request's (an empty Test included) from the image's.
func healthcheckOf(cfg *container.Config, img imagefacts.Facts) Healthcheck {
	var eff container.HealthConfig
	inherited := false
	switch {
	case cfg.Healthcheck == nil && img.Healthcheck != nil:
		eff, inherited = *img.Healthcheck, true
	case cfg.Healthcheck != nil:
		eff = *cfg.Healthcheck
		if ih := img.Healthcheck; ih != nil {
			if len(eff.Test) == 0 {
				eff.Test, inherited = ih.Test, len(ih.Test) > 0
			}
			if eff.Interval == 0 {
				eff.Interval = ih.Interval
			}
			if eff.Timeout == 0 {
				eff.Timeout = ih.Timeout
			}
			if eff.StartPeriod == 0 {
				eff.StartPeriod = ih.StartPeriod
			}
			if eff.Retries == 0 {
				eff.Retries = ih.Retries
			}
		}
	}
	h := Healthcheck{
		Form:          FormAbsent,
		Inherited:     inherited,
		Test:          nonNil(eff.Test),
		Args:          []string{},
		Shell:         []string{},
		Commands:      []string{},
		IntervalNs:    int64(eff.Interval),
		TimeoutNs:     int64(eff.Timeout),
		StartPeriodNs: int64(eff.StartPeriod),
		Retries:       eff.Retries,
	}
	if len(eff.Test) == 0 {
		h.Inherited = false
		return h
	}
	switch eff.Test[0] {
	case "NONE":
		h.Form = FormNone
	case "CMD":
		h.Form = FormCmd
		if len(eff.Test) > 1 {
			h.Program = eff.Test[1]
			h.Args = nonNil(eff.Test[2:])
		}
	case "CMD-SHELL":
		h.Form = FormShell
		h.Shell = shellOf(cfg, img)
		h.Program = h.Shell[0]
		h.ShellCommand = strings.Join(eff.Test[1:], " ")
		h.Commands = shellCommands(h.ShellCommand)
	default:
		// dockerd rejects any other first element at create time; describe
		// it as an exec-form check so that no rule mistakes it for absent.
		h.Form = FormCmd
		h.Program = eff.Test[0]
		h.Args = nonNil(eff.Test[1:])
	}
	h.ProbeURL = probeURL(eff.Test[1:])
	return h
}

// shellOf is the shell that runs a CMD-SHELL healthcheck: Config.Shell,
// the request's over the image's, else /bin/sh -c.
func shellOf(cfg *container.Config, img imagefacts.Facts) []string {
	if len(cfg.Shell) > 0 {
		return cfg.Shell
	}
	if len(img.Shell) > 0 {
		return img.Shell
	}
	return []string{"/bin/sh", "-c"}
}

var urlPattern = regexp.MustCompile(`https?://[^\s'"<>|;&)]+`)

// probeURL finds the first http(s) URL in a healthcheck's arguments, which
// is what a sidecar must probe instead.
func probeURL(args []string) string {
	for _, a := range args {
		if u := urlPattern.FindString(a); u != "" {
			return u
		}
	}
	return ""
}

// networkOf splits HostConfig.NetworkMode into a mode and its target.
func networkOf(mode string) Network {
	switch mode {
	case "", "default":
		return Network{Mode: "default"}
	case "bridge", "host", "none":
		return Network{Mode: mode}
	}
	if target, ok := strings.CutPrefix(mode, "container:"); ok {
		return Network{Mode: "container", Target: target}
	}
	return Network{Mode: "network", Target: mode}
}

// portsOf lists the published ports in a stable order.
func portsOf(host *container.HostConfig) []Port {
	ports := []Port{}
	for p, bindings := range host.PortBindings {
		for _, b := range bindings {
			hostIP := ""
			if b.HostIP.IsValid() {
				hostIP = b.HostIP.String()
			}
			ports = append(ports, Port{ContainerPort: p.String(), HostIP: hostIP, HostPort: b.HostPort})
		}
	}
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].ContainerPort != ports[j].ContainerPort {
			return ports[i].ContainerPort < ports[j].ContainerPort
		}
		return ports[i].HostPort < ports[j].HostPort
	})
	return ports
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

package input

import (
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

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
		groupAdd:    len(host.GroupAdd) > 0,
	}
	if c.User == "" {
		c.User = img.User
	}
	c.Entrypoint, c.Command = commandOf(cfg, img)
	c.Path = pathOf(cfg.Env, img.Env)
	c.WorkingDir = workingDirOf(cfg, img)
	c.Mounts = mountsOf(host)
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
	// After the merge, an entrypoint of one empty string (`docker run
	// --entrypoint ""`) means none: moby daemon/create.go,
	// mergeAndVerifyConfig. It has already kept the image's command out,
	// since it is not empty during the merge. A command of one empty
	// string is no reset: it stays the argument "" (or argv[0] "").
	if len(entrypoint) == 1 && entrypoint[0] == "" {
		entrypoint = nil
	}
	return nonNil(entrypoint), nonNil(command)
}

// pathOf returns the directories of the container's PATH as its processes
// (the health exec included) get it. dockerd merges the image's Env in only
// for keys the request does not name (daemon/commit.go, merge), then
// applies the merged Env in order over PATH=DefaultPath
// (container.CreateDaemonEnvironment, ReplaceOrAppendEnvValues): KEY=value
// sets, a bare KEY unsets, the last entry wins. Unset, runc's init process
// has no PATH at all (its own environment holds only _LIBCONTAINER_*
// variables), so Go's exec.LookPath searches nothing: the result is empty.
// An empty entry is the working directory for exec.LookPath; it is listed
// as ".".
func pathOf(reqEnv, imgEnv []string) []string {
	p, ok := lookupEnv(reqEnv, "PATH")
	if !ok {
		p, ok = lookupEnv(imgEnv, "PATH")
	}
	if !ok {
		p = DefaultPath
	}
	dirs := []string{}
	if p == "" {
		// unset, or set to nothing: exec.LookPath has no directory.
		return dirs
	}
	for _, dir := range strings.Split(p, ":") {
		if dir == "" {
			dir = "."
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

// lookupEnv applies the entries for key in order, as
// ReplaceOrAppendEnvValues does: KEY=value sets it, a bare KEY unsets it
// (value ""), the last one wins. ok says whether env names key at all.
func lookupEnv(env []string, key string) (value string, ok bool) {
	for _, e := range env {
		k, v, hasValue := strings.Cut(e, "=")
		if k != key {
			continue
		}
		ok = true
		if hasValue {
			value = v
		} else {
			value = ""
		}
	}
	return value, ok
}

// workingDirOf is the directory the container's processes and its health
// exec start in: the request's WorkingDir, else the image's (moby
// daemon/commit.go, merge), cleaned (translateWorkingDir), else "/" (the
// exec's default, daemon/exec.go). dockerd creates it when the image lacks
// it, and refuses a relative one.
func workingDirOf(cfg *container.Config, img imagefacts.Facts) string {
	wd := cfg.WorkingDir
	if wd == "" {
		wd = img.WorkingDir
	}
	if wd == "" {
		return "/"
	}
	return path.Join("/", wd)
}

// Mount types (Mount.Type) beyond the Engine API's.
const (
	MountBind   = "bind"
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// mountsOf lists what the request mounts over the image's files:
// HostConfig.Binds ("src:dst[:opts]": a source with a "/" is a bind, else
// a named volume; a lone "dst" an anonymous volume), HostConfig.Mounts and
// HostConfig.Tmpfs, sorted by target. Targets are cleaned, not resolved:
// WithIndex follows the image's symlinks, as runc does when it mounts.
// The image's own VOLUMEs are left out: a new volume starts as a copy of
// the image's files there.
func mountsOf(host *container.HostConfig) []Mount {
	mounts := []Mount{}
	if host == nil {
		return mounts
	}
	add := func(target, typ string) {
		if target == "" {
			return
		}
		mounts = append(mounts, Mount{Target: path.Join("/", target), Type: typ})
	}
	for _, b := range host.Binds {
		parts := strings.Split(b, ":")
		switch len(parts) {
		case 1:
			add(parts[0], MountVolume)
		default:
			typ := MountVolume
			if strings.Contains(parts[0], "/") {
				typ = MountBind
			}
			add(parts[1], typ)
		}
	}
	for _, m := range host.Mounts {
		add(m.Target, string(m.Type))
	}
	for target := range host.Tmpfs {
		add(target, MountTmpfs)
	}
	sort.SliceStable(mounts, func(i, j int) bool { return mounts[i].Target < mounts[j].Target })
	return mounts
}

// FormInvalid is the form of a healthcheck test dockerd cannot run as a
// check; Healthcheck.Problem says why.
const FormInvalid = "invalid"

// Why a test is FormInvalid (Healthcheck.Problem). Checked against moby's
// daemon/health.go (cmdProbe.run, getProbe), 20.10 and master.
const (
	// ProblemNoProgram: ["CMD"]. dockerd before 29.5 panics when it runs
	// the probe (getEntrypointAndArgs indexes an empty slice), and the
	// whole daemon dies; 29.5+ fails every probe ("has no command").
	ProblemNoProgram = "no_program"
	// ProblemEmptyProgram: ["CMD", ""] (or blank): exec of "" fails on
	// every probe.
	ProblemEmptyProgram = "empty_program"
	// ProblemNoCommand: ["CMD-SHELL"]: dockerd before 29.5 runs
	// `/bin/sh -c` with no command, which fails; 29.5+ fails the probe
	// itself.
	ProblemNoCommand = "no_command"
	// ProblemEmptyCommand: ["CMD-SHELL", ""] (or only blanks): `sh -c ""`
	// exits 0, so the container turns healthy without anything checked.
	ProblemEmptyCommand = "empty_command"
	// ProblemUnknownType: Test[0] is not NONE, CMD or CMD-SHELL (compared
	// case-sensitively). dockerd accepts the create, then never runs the
	// check: the container has no health status at all.
	ProblemUnknownType = "unknown_type"
)

// Bounds on the work one healthcheck can make the plugin do: a create body
// may carry a test of a mebibyte (dockerd 20.10 forwards up to 1 MiB).
const (
	// MaxParsedBytes is how much of a test is read: the length of
	// shell_command, the part of a CMD-SHELL command parsed for commands,
	// and the bytes of the arguments searched for probe_url.
	MaxParsedBytes = 16 << 10
	// MaxCommands is how many programs commands lists at most.
	MaxCommands = 32
	// MaxTestElements is how many elements of a test the document carries
	// (test, and args within them): dockerd runs them all, but a rule
	// never needs more, and each costs the plugin a Rego value.
	MaxTestElements = 256
	// MaxProbeURLBytes is the longest probe_url kept; a longer URL is cut
	// (and the healthcheck marked truncated). Fixes only use URLs of 512
	// bytes or less, so a cut URL never reaches one. An exec test that is
	// truncated in any way has no probe_url at all.
	MaxProbeURLBytes = 2 << 10
)

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
	test := eff.Test
	if len(test) > MaxTestElements {
		test, h.Truncated = test[:MaxTestElements], true
		h.Test = test
	}
	h.Form, h.Problem = testForm(test)
	switch h.Form {
	case FormInvalid:
		// Nothing dockerd can run: no program, no commands, no probe.
		return h
	case FormCmd:
		h.Program = test[1]
		h.Args = nonNil(test[2:])
	case FormShell:
		h.Shell = shellOf(cfg, img)
		h.Program = h.Shell[0]
		var cut bool
		h.ShellCommand, cut = joinPrefix(test[1:], " ", MaxParsedBytes)
		if h.Truncated = h.Truncated || cut; h.Truncated {
			h.Commands = shellCommandsPrefix(h.ShellCommand)
		} else {
			h.Commands = shellCommands(h.ShellCommand)
		}
	}
	url, cut := probeURL(test[1:])
	h.ProbeURL, h.Truncated = url, h.Truncated || cut
	if h.Truncated && h.Form == FormCmd {
		// A curl probe's fix copies its arguments into the sidecar's
		// test: never the ones the plugin did not read.
		h.ProbeURL = ""
	}
	h.ProbeLoopback = probeLoopback(h.ProbeURL)
	return h
}

// testForm classifies a non-empty Test as dockerd's health monitor reads
// it (daemon/health.go, getProbe and cmdProbe.run).
func testForm(test []string) (form, problem string) {
	switch test[0] {
	case "NONE":
		return FormNone, ""
	case "CMD":
		switch {
		case len(test) < 2:
			return FormInvalid, ProblemNoProgram
		case strings.TrimSpace(test[1]) == "":
			return FormInvalid, ProblemEmptyProgram
		}
		return FormCmd, ""
	case "CMD-SHELL":
		switch {
		case len(test) < 2:
			return FormInvalid, ProblemNoCommand
		case strings.Trim(test[1], " \t\n") == "":
			// The shell runs test[1]; any later elements are its $0, $1, …
			return FormInvalid, ProblemEmptyCommand
		}
		return FormShell, ""
	}
	return FormInvalid, ProblemUnknownType
}

// joinPrefix is strings.Join(parts, sep) when that has at most limit
// bytes; otherwise its first limit bytes (cut back to a whole UTF-8
// character) and true, built without joining the rest.
func joinPrefix(parts []string, sep string, limit int) (string, bool) {
	n := 0
	for i, p := range parts {
		if i > 0 {
			n += len(sep)
		}
		if n += len(p); n > limit {
			break
		}
	}
	if n <= limit {
		return strings.Join(parts, sep), false
	}
	var b strings.Builder
	b.Grow(limit)
	for i, p := range parts {
		if i > 0 {
			b.WriteString(sep)
		}
		if room := limit - b.Len(); len(p) >= room {
			b.WriteString(cutUTF8(p, max(room, 0)))
			break
		}
		b.WriteString(p)
	}
	return b.String(), true
}

// cutUTF8 returns s cut to at most n bytes, never inside a UTF-8
// character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
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
// is what a sidecar must probe instead. It reads at most MaxParsedBytes of
// the arguments and keeps at most MaxProbeURLBytes of the URL; truncated
// says that either bound cut something.
func probeURL(args []string) (url string, truncated bool) {
	budget := MaxParsedBytes
	for _, a := range args {
		if budget <= 0 {
			return "", true
		}
		if len(a) > budget {
			a, truncated = cutUTF8(a, budget), true
		}
		budget -= len(a)
		if u := urlPattern.FindString(a); u != "" {
			if len(u) > MaxProbeURLBytes {
				u, truncated = cutUTF8(u, MaxProbeURLBytes), true
			}
			return u, truncated
		}
	}
	return "", truncated
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

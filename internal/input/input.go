// Package input builds the normalized document that every policy evaluates.
// The same document describes a container whether it arrives as a dockerd
// create request or as a compose service, so one rule serves both.
// docs/input.md is its reference; keep the two in step.
package input

import "github.com/open-policy-agent/opa/v1/ast"

// SourceIndex is the image source when the image's own files answered.
const SourceIndex = "index"

// Sources of a document.
const (
	SourceDockerd = "dockerd"
	SourceCompose = "compose"
)

// Actions a document describes.
const (
	ActionContainerCreate = "container.create"
	ActionServiceCreate   = "service.create"
	ActionServiceUpdate   = "service.update"
	actionPluginPrefix    = "plugin."
)

// Healthcheck forms.
const (
	FormCmd    = "cmd"
	FormShell  = "shell"
	FormNone   = "none"
	FormAbsent = "absent"
)

// Document is the policy input.
type Document struct {
	Source  string   `json:"source"`
	Action  string   `json:"action"`
	Authz   Authz    `json:"authz"`
	Request *Request `json:"request,omitempty"`
	Plugin  *Plugin  `json:"plugin,omitempty"`
	// Service is the swarm service of a service.create or service.update:
	// its container is the task container the service will create.
	Service   *Service   `json:"service,omitempty"`
	Container *Container `json:"container,omitempty"`
	Image     *Image     `json:"image,omitempty"`
	// Project is the whole compose project the container belongs to, for
	// rules that look across services. Only `authz check` knows it: a
	// dockerd create request carries one container.
	Project *Project `json:"project,omitempty"`
}

// Project is a compose project: every service's document (without its
// own Project), keyed by service name.
type Project struct {
	Name     string              `json:"name"`
	Services map[string]Document `json:"services"`
	// Index is what the other services say of each service, keyed by the
	// service named: the reverse of depends_on and of network_mode
	// "service:". Rules asking it of every service would otherwise scan
	// the whole project once per service, quadratic in its size. Every
	// service has an entry, and so does a name that depends_on or
	// network_mode gives without the project having it. NewProject fills it.
	Index map[string]Relations `json:"index,omitempty"`

	// term is the project as a Rego value, built once by NewProject and
	// shared by every service's document.
	term *ast.Term
}

// Relations are the services of a project that name one service.
type Relations struct {
	// Dependents are the services whose depends_on names this one, with
	// the condition each waits for.
	Dependents map[string]string `json:"dependents,omitempty"`
	// JoinedBy are the services that join this one's network namespace
	// (network_mode "service:<name>": container mode with this service as
	// its target), sorted.
	JoinedBy []string `json:"joined_by,omitempty"`
}

// NewProject returns the project of services. Its Rego value is built
// here, once: every service's document embeds the same value, so checking
// a project of n services costs n conversions, not n². services must not
// change afterwards.
func NewProject(name string, services map[string]Document) *Project {
	p := &Project{Name: name, Services: services, Index: projectIndex(services)}
	p.term = p.value()
	return p
}

// projectIndex returns the reverse relations of services, in one pass.
func projectIndex(services map[string]Document) map[string]Relations {
	// Every service has an entry, so that a project whose services name
	// none of the others still has an index, and rules need not scan it.
	idx := make(map[string]Relations, len(services))
	for s := range services {
		idx[s] = Relations{}
	}
	for _, s := range sortedKeys(services) {
		c := services[s].Container
		if c == nil {
			continue
		}
		if c.Compose != nil {
			for target, d := range c.Compose.DependsOn {
				r := idx[target]
				if r.Dependents == nil {
					r.Dependents = map[string]string{}
				}
				r.Dependents[s] = d.Condition
				idx[target] = r
			}
		}
		if c.Network.Mode == "container" {
			r := idx[c.Network.Target]
			// s grows in sorted order, so JoinedBy stays sorted.
			r.JoinedBy = append(r.JoinedBy, s)
			idx[c.Network.Target] = r
		}
	}
	return idx
}

// value is the project as a Rego value, from its fields as they are.
func (p *Project) value() *ast.Term {
	svcs := ast.NewObjectWithCapacity(len(p.Services))
	for _, k := range sortedKeys(p.Services) {
		svcs.Insert(ast.StringTerm(k), ast.NewTerm(p.Services[k].Value()))
	}
	o := obj(kv("name", str(p.Name)), kv("services", ast.NewTerm(svcs)))
	if len(p.Index) > 0 {
		idx := ast.NewObjectWithCapacity(len(p.Index))
		for _, k := range sortedKeys(p.Index) {
			r := p.Index[k]
			ro := ast.NewObjectWithCapacity(2)
			if len(r.Dependents) > 0 {
				deps := ast.NewObjectWithCapacity(len(r.Dependents))
				for _, s := range sortedKeys(r.Dependents) {
					deps.Insert(ast.StringTerm(s), str(r.Dependents[s]))
				}
				ro.Insert(key("dependents"), ast.NewTerm(deps))
			}
			if len(r.JoinedBy) > 0 {
				ro.Insert(key("joined_by"), strs(r.JoinedBy))
			}
			idx.Insert(ast.StringTerm(k), ast.NewTerm(ro))
		}
		o.Insert(key("index"), ast.NewTerm(idx))
	}
	return ast.NewTerm(o)
}

// Authz describes this plugin itself, so rules can protect it.
type Authz struct {
	PluginName string `json:"plugin_name"`
}

// Request is the API request as dockerd routes it. Only for dockerd.
type Request struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	APIVersion string              `json:"api_version"`
	Query      map[string][]string `json:"query,omitempty"`
	// User is only set for TLS client-certificate connections; on the unix
	// socket every caller is anonymous.
	User       string `json:"user"`
	AuthMethod string `json:"auth_method"`
	// UserAgent is client-controlled: useful in messages, never identity.
	UserAgent string `json:"user_agent"`
}

// Plugin is the target of a /plugins/{name}/... request.
type Plugin struct {
	// Name is the reference as the path wrote it: a name, an ID or an ID
	// prefix; dockerd accepts all three.
	Name string `json:"name"`
	// Lookup is what the daemon said of Name (see WithPluginTarget):
	// "found", "not_found", or "failed" when it could not say, so Name may
	// be any plugin. Absent when the daemon was not asked.
	Lookup string `json:"lookup,omitempty"`
	// ID and ResolvedName are the plugin dockerd will act on, when Lookup
	// is "found": the 64-hex ID and the name with its tag.
	ID           string `json:"id,omitempty"`
	ResolvedName string `json:"resolved_name,omitempty"`
	// LookupError says why the lookup found nothing, for messages.
	LookupError string `json:"lookup_error,omitempty"`
}

// Container is the container as it will run.
type Container struct {
	Name       string   `json:"name"`
	Compose    *Compose `json:"compose,omitempty"`
	Image      string   `json:"image"`
	Entrypoint []string `json:"entrypoint"`
	Command    []string `json:"command"`
	User       string   `json:"user"`
	// groupAdd is set when HostConfig.GroupAdd gives the user more
	// groups: WithIndex then leaves permissions unchecked.
	groupAdd bool
	Path     []string `json:"path"`
	// WorkingDir is the directory its processes and the health exec start
	// in; programs named with a "/" but not from "/" are found from it.
	WorkingDir string `json:"working_dir"`
	// Mounts are the request's binds, volumes and tmpfs mounts, which
	// cover the image's files at their targets.
	Mounts      []Mount           `json:"mounts"`
	Healthcheck Healthcheck       `json:"healthcheck"`
	Network     Network           `json:"network"`
	Ports       []Port            `json:"ports"`
	MemoryBytes int64             `json:"memory_bytes"`
	Labels      map[string]string `json:"labels"`
	// ProbeApp is the one running container that publishes or exposes the
	// port of a localhost probe_url, resolved only when the container does
	// not share another's network namespace (see WithProbeApp).
	ProbeApp *NetworkContainer `json:"probe_app,omitempty"`
}

// Mount is one mount over the container's files.
type Mount struct {
	// Target is the path in the container, cleaned.
	Target string `json:"target"`
	// Type is bind, volume or tmpfs (or another HostConfig.Mounts type:
	// image, npipe, cluster).
	Type string `json:"type"`
}

// Service is a swarm service, as a service.create or service.update
// request names it.
type Service struct {
	// Name is the spec's name ("shop_app" in stack "shop"); for an update
	// whose spec has none, the service the path names.
	Name string `json:"name"`
	// Stack is the com.docker.stack.namespace service label, "" when the
	// service is not part of a stack.
	Stack string `json:"stack"`
}

// Compose identifies the compose service a container belongs to.
type Compose struct {
	Project string `json:"project"`
	Service string `json:"service"`
	// DependsOn are the service's depends_on entries, keyed by the
	// service waited for. Only `authz check` knows them: docker compose
	// resolves them itself and never sends them to dockerd.
	DependsOn map[string]Dependency `json:"depends_on,omitempty"`
}

// Dependency is one depends_on entry.
type Dependency struct {
	// Condition is service_started, service_healthy or
	// service_completed_successfully.
	Condition string `json:"condition"`
	// Required is false when compose only warns if the service is missing.
	Required bool `json:"required"`
}

// Healthcheck is the effective healthcheck: the request's merged with the
// image's, as dockerd merges them.
type Healthcheck struct {
	Form          string   `json:"form"`
	Inherited     bool     `json:"inherited"`
	Test          []string `json:"test"`
	Program       string   `json:"program"`
	Args          []string `json:"args"`
	Shell         []string `json:"shell"`
	ShellCommand  string   `json:"shell_command"`
	Commands      []string `json:"commands"`
	ProbeURL      string   `json:"probe_url"`
	ProbeLoopback bool     `json:"probe_loopback"` // probe_url's host is the container itself (probeLoopback)
	IntervalNs    int64    `json:"interval_ns"`
	TimeoutNs     int64    `json:"timeout_ns"`
	StartPeriodNs int64    `json:"start_period_ns"`
	Retries       int      `json:"retries"`
	// Problem says why dockerd cannot run the test, when Form is
	// FormInvalid: ProblemNoProgram, ProblemEmptyProgram,
	// ProblemNoCommand, ProblemEmptyCommand or ProblemUnknownType; "" for
	// every other form.
	Problem string `json:"problem"`
	// Truncated is true when the test was longer than the plugin reads
	// (MaxTestElements, MaxParsedBytes, MaxProbeURLBytes): test,
	// shell_command, commands and probe_url then come from its beginning
	// only, and an exec test has no probe_url.
	Truncated bool `json:"truncated"`
}

// Network is the container's network mode.
type Network struct {
	// Mode is default, bridge, host, none, container or network.
	Mode string `json:"mode"`
	// Target is the container (container mode) or network (network mode).
	Target string `json:"target"`
	// Container is the target container as the daemon knows it, in
	// container mode once resolved (see WithNetworkTarget).
	Container *NetworkContainer `json:"container,omitempty"`
}

// NetworkContainer is the container whose network namespace is shared.
type NetworkContainer struct {
	Found   bool     `json:"found"`
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Running bool     `json:"running"`
	Compose *Compose `json:"compose,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Port is one published port.
type Port struct {
	ContainerPort string `json:"container_port"`
	HostIP        string `json:"host_ip"`
	HostPort      string `json:"host_port"`
}

// Image is what is known about the container's image.
type Image struct {
	Ref        string            `json:"ref"`
	Repository string            `json:"repository"`
	Tag        string            `json:"tag"`
	Digest     string            `json:"digest"`
	Source     string            `json:"source"`
	Found      bool              `json:"found"`
	ID         string            `json:"id"`
	Labels     map[string]string `json:"labels"`
	Shell      []string          `json:"shell"`
	Error      string            `json:"error,omitempty"`
	// ShellFound and Programs come from the image's own files (source
	// "index"); they are absent when the index did not answer.
	ShellFound *bool                  `json:"shell_found,omitempty"`
	Programs   map[string]ProgramFact `json:"programs,omitempty"`
	// Catalog is set by the policy engine, not by the input's builder: the
	// image's catalog entry, worked out once per repository, tag and
	// policy set (policy.EntryQuery), so rules need not derive it on
	// every evaluation.
	Catalog *CatalogFacts `json:"catalog,omitempty"`
}

// CatalogFacts holds the catalog entry of an image (input.image.catalog):
// the object rego/lib/image.rego's entry rule is, or none when the image
// is not in the catalog.
type CatalogFacts struct {
	Entry map[string]any `json:"entry,omitempty"`
}

// ProgramFact says whether a program the container runs exists in the
// image, looked up as runc does, and where.
type ProgramFact struct {
	Found bool   `json:"found"`
	Path  string `json:"path"`
	// Resolved is Path with every symlink followed: /bin/sh may be
	// /usr/bin/dash.
	Resolved string `json:"resolved"`
	// HiddenBy is the target of the container's mount that decided the
	// lookup instead of the image's files: a tmpfs that hides the image's
	// program (Found false), or a bind or volume whose content the plugin
	// cannot see (Unknown).
	HiddenBy string `json:"hidden_by,omitempty"`
	// Unknown means the lookup reached a bind or volume mount: Found is
	// false and says nothing; rules must treat the program as unknown.
	Unknown bool `json:"unknown,omitempty"`
	// Relative means Go's exec.LookPath (in runc) found the program only
	// through a relative PATH entry (".", "", "bin") and refuses it:
	// Found is false and Path is that relative path.
	Relative bool `json:"relative,omitempty"`
	// NotExecutableBy names the container's user ("uid 65532") when the
	// image holds the program but that user may not execute it: its mode
	// and owner, or a directory on its path, deny it. Found is false.
	NotExecutableBy string `json:"not_executable_by,omitempty"`
}

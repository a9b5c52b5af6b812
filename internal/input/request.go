package input

import (
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/pluginref"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

// Caller is what the authz protocol says about who made the request.
type Caller struct {
	User       string
	AuthMethod string
	UserAgent  string
}

// ForRequest starts a dockerd document for a routed request. It carries no
// container: use WithCreate for container creates.
func ForRequest(rt route.Route, c Caller, pluginName string) Document {
	d := Document{
		Source: SourceDockerd,
		Action: rt.Kind.String(),
		Authz:  Authz{PluginName: pluginName},
		Request: &Request{
			Method:     rt.Method,
			Path:       rt.Path,
			APIVersion: rt.APIVersion,
			Query:      rt.Query,
			User:       c.User,
			AuthMethod: c.AuthMethod,
			UserAgent:  c.UserAgent,
		},
	}
	if rt.Kind == route.Plugin {
		d.Action = actionPluginPrefix + rt.PluginVerb
		d.Plugin = &Plugin{Name: rt.PluginName}
	}
	return d
}

// WithPluginTarget adds what the daemon said of the plugin reference, so
// HA090 recognises this plugin named by ID or ID prefix, and refuses a
// reference that may be it when the daemon could not say. Only for
// plugin documents; others are returned as they are.
func (d Document) WithPluginTarget(t pluginref.Target) Document {
	if d.Plugin == nil {
		return d
	}
	p := Plugin{Name: d.Plugin.Name, Lookup: t.Lookup, LookupError: t.Err}
	if t.Lookup == pluginref.Found {
		p.ID, p.ResolvedName, p.LookupError = t.ID, t.Name, ""
	}
	d.Plugin = &p
	return d
}

// WithService adds the swarm service a service.create or service.update
// names. The container is added with WithCreate (or WithImage), as for a
// container create.
func (d Document) WithService(name, stack string) Document {
	d.Service = &Service{Name: name, Stack: stack}
	return d
}

// value is the plugin as a Rego value, the same as its JSON encoding:
// optional fields only when set.
func (p *Plugin) value() ast.Value {
	o := obj(kv("name", str(p.Name)))
	for _, f := range [...]struct{ k, v string }{
		{"lookup", p.Lookup}, {"id", p.ID}, {"resolved_name", p.ResolvedName}, {"lookup_error", p.LookupError},
	} {
		if f.v != "" {
			o.Insert(ast.StringTerm(f.k), str(f.v))
		}
	}
	return o
}

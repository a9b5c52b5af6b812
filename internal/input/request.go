package input

import "github.com/hardened-authz/hardened-authz/internal/route"

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

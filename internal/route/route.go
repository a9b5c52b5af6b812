// Package route classifies a Docker Engine API request the way dockerd's own
// router sees it, so the plugin can decide how much work a request deserves.
//
// dockerd matches routes on the percent-decoded path with the optional
// "/vX.Y" prefix removed; a plugin that matched on the raw RequestUri could
// be bypassed with "/v1.41/containers%2Fcreate" or "/containers/create/".
package route

import (
	"net/url"
	"path"
	"strings"
)

// Kind is the class of an API request, from the plugin's point of view.
type Kind int

const (
	// Other is every request the shipped rules do not inspect. It takes the
	// fast path.
	Other Kind = iota
	// Ping is GET/HEAD /_ping. Denying it breaks every docker CLI command,
	// so it is always allowed.
	Ping
	// ContainerCreate is POST /containers/create.
	ContainerCreate
	// Plugin is a request that manages a plugin: /plugins/{name}/{verb} or
	// DELETE /plugins/{name}.
	Plugin
	// ImagePull is POST /images/create (docker pull, docker import).
	ImagePull
	// ImageLoad is POST /images/load (docker load).
	ImageLoad
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case Ping:
		return "ping"
	case ContainerCreate:
		return "container.create"
	case Plugin:
		return "plugin"
	case ImagePull:
		return "image.pull"
	case ImageLoad:
		return "image.load"
	default:
		return "other"
	}
}

// Route is a classified request.
type Route struct {
	Kind Kind
	// Method is the HTTP method, upper case.
	Method string
	// Path is the percent-decoded, cleaned path without the version prefix
	// and without the query.
	Path string
	// APIVersion is the "X.Y" of a "/vX.Y" prefix, or "".
	APIVersion string
	// Query is the parsed query string. Nil when there is none.
	Query url.Values
	// PluginName and PluginVerb are set for Kind Plugin. The verb is one of
	// disable, enable, remove, set, upgrade, push or other.
	PluginName string
	PluginVerb string
}

// Parse classifies a request from its method and raw RequestUri, as the
// authz plugin protocol delivers them. It never fails: a URI that cannot be
// parsed is classified from its raw path so that it can still be denied by a
// rule, and dockerd would have rejected it anyway.
func Parse(method, rawURI string) Route {
	r := Route{Method: strings.ToUpper(method)}
	rawPath, rawQuery, _ := strings.Cut(rawURI, "?")
	if rawQuery != "" {
		if q, err := url.ParseQuery(rawQuery); err == nil {
			r.Query = q
		}
	}
	p, err := url.PathUnescape(rawPath)
	if err != nil {
		p = rawPath
	}
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	p = path.Clean(p)
	r.APIVersion, p = splitVersion(p)
	r.Path = p

	switch {
	case p == "/_ping" && (r.Method == "GET" || r.Method == "HEAD"):
		r.Kind = Ping
	case p == "/containers/create" && r.Method == "POST":
		r.Kind = ContainerCreate
	case p == "/images/create" && r.Method == "POST":
		r.Kind = ImagePull
	case p == "/images/load" && r.Method == "POST":
		r.Kind = ImageLoad
	case strings.HasPrefix(p, "/plugins/"):
		r.PluginName, r.PluginVerb = pluginTarget(r.Method, strings.TrimPrefix(p, "/plugins/"))
		if r.PluginName != "" {
			r.Kind = Plugin
		}
	}
	return r
}

// splitVersion removes a leading "/vX.Y" (dockerd's route pattern is
// "/v{version:[0-9.]+}") and returns the version and the remaining path.
func splitVersion(p string) (version, rest string) {
	if len(p) < 3 || p[1] != 'v' {
		return "", p
	}
	end := strings.IndexByte(p[1:], '/')
	seg := p[2:]
	if end >= 0 {
		seg = p[2 : end+1]
	}
	if seg == "" || strings.Trim(seg, "0123456789.") != "" {
		return "", p
	}
	if end < 0 {
		return seg, "/"
	}
	return seg, p[end+1:]
}

// pluginTarget extracts the plugin name and the management verb from the
// part of the path after "/plugins/". Plugin names may contain slashes
// (registry/org/name:tag), so the verb is taken from the end.
func pluginTarget(method, rest string) (name, verb string) {
	// Routes without a plugin name in them: list, privileges, pull, create.
	switch rest {
	case "", "privileges", "pull", "create":
		return "", ""
	}
	if method == "DELETE" {
		return rest, "remove"
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return rest, "other"
	}
	name, last := rest[:i], rest[i+1:]
	switch last {
	case "disable", "enable", "set", "upgrade", "push":
		return name, last
	case "json":
		return name, "inspect"
	}
	return rest, "other"
}

// Package route classifies a Docker Engine API request the way dockerd's own
// router sees it, so the plugin can decide how much work a request deserves.
//
// dockerd's authz middleware forwards the request target exactly as the
// client wrote it (RequestUri), but dockerd routes on something else:
//
//   - Go's net/http server parses the target with url.ParseRequestURI
//     (net/http readRequest). Origin-form "/v1.41/containers/create",
//     absolute-form with any scheme "http://x/v1.41/containers/create",
//     "unix://d/containers/create", "HTTP://h/…" and the authority-less
//     "x:/v1.41/containers/create" all end up with the same URL.Path.
//   - gorilla/mux (moby's api/server.createMux, mux v1.8.0 in 20.10 and
//     v1.8.1 today, neither UseEncodedPath nor SkipClean) matches that
//     percent-decoded URL.Path, case-sensitively, against
//     "/v{version:[0-9.]+}" + route and the route alone. A path that
//     cleanPath would change ("//x", "/./", "/../") gets a 301 redirect and
//     never reaches a handler; the authz middleware runs inside the
//     matched handler, so unmatched requests never reach the plugin.
//
// Parse reproduces the first step exactly and the second one strictly: it
// cleans paths that dockerd would only redirect, so that
// "/containers/create/" or "//containers/create" is classified as a create
// rather than waved through. A target that Go's server would reject, or
// that leaves no path to route on, is Unparsable: it must never take the
// fast path.
package route

import (
	"cmp"
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
	// Plugin is a request that manages a plugin: /plugins/{name}/{verb},
	// DELETE /plugins/{name}, or an install (POST /plugins/pull or
	// /plugins/create) that names the new plugin.
	Plugin
	// ImagePull is POST /images/create (docker pull, docker import).
	ImagePull
	// ImageLoad is POST /images/load (docker load).
	ImageLoad
	// ContainerStart is POST /containers/{name}/start. ContainerRef holds
	// {name}: a container name, ID or ID prefix, as the client wrote it.
	ContainerStart
	// Unparsable is a request target that Go's HTTP server would refuse or
	// that leaves no origin-form path to route on (an opaque "x:y", "*", a
	// bad percent-escape, control characters). dockerd never routes such a
	// target to a handler, so it should never reach the plugin; when one
	// does, the plugin cannot tell what it would do and must decide it
	// strictly, never on the fast path.
	Unparsable
	// ServiceCreate is POST /services/create, on a swarm manager: the
	// service's task containers are created inside the daemon and never
	// pass the plugin, so the service is decided as the create it will be.
	ServiceCreate
	// ServiceUpdate is POST /services/{id}/update. ServiceRef holds {id}:
	// a service name, ID or ID prefix, as the client wrote it.
	ServiceUpdate
)

// String names the kind for logs and for the input's action.
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
	case ContainerStart:
		return "container.start"
	case Unparsable:
		return "unparsable"
	case ServiceCreate:
		return "service.create"
	case ServiceUpdate:
		return "service.update"
	default:
		return "other"
	}
}

// Route is a classified request.
type Route struct {
	Kind Kind
	// Method is the HTTP method, upper case.
	Method string
	// Path is the percent-decoded, cleaned path dockerd routes on, without
	// the version prefix and without the query, whatever form the target
	// had. For Kind Unparsable it is the raw target, or its still-escaped
	// path, up to the query: for the log only.
	Path string
	// APIVersion is the "X.Y" of a "/vX.Y" prefix, or "".
	APIVersion string
	// Query is the parsed query string. Nil when there is none.
	Query url.Values
	// PluginName and PluginVerb are set for Kind Plugin. The verb is one of
	// disable, enable, remove, set, upgrade, push, inspect, other, or
	// install (POST /plugins/pull or /plugins/create, the name from the
	// query: the name the new plugin will have).
	PluginName string
	PluginVerb string
	// ContainerRef is the {name} of POST /containers/{name}/start, set for
	// Kind ContainerStart: what dockerd will look the container up by.
	ContainerRef string
	// ServiceRef is the {id} of POST /services/{id}/update, set for Kind
	// ServiceUpdate: the service name, ID or ID prefix dockerd looks up.
	ServiceRef string
}

// Parse classifies a request from its method and raw RequestUri, as the
// authz plugin protocol delivers them. It never fails: a target dockerd
// could not have routed is Kind Unparsable.
func Parse(method, rawURI string) Route {
	r := Route{Method: strings.ToUpper(method)}
	rawPath, rawQuery, ok := requestPath(r.Method, rawURI)
	if !ok {
		r.Kind = Unparsable
		r.Path, _, _ = strings.Cut(rawURI, "?")
		return r
	}
	p, err := url.PathUnescape(rawPath)
	if err != nil {
		// Go's server answers 400 to a bad escape: no route, no handler.
		r.Kind = Unparsable
		r.Path = rawPath
		return r
	}
	if rawQuery != "" {
		if q, err := url.ParseQuery(rawQuery); err == nil {
			r.Query = q
		}
	}
	// Cleaning is stricter than dockerd, which redirects unclean paths and
	// 404s a trailing slash: it classifies them as what they look like.
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
	case r.Method == "POST" && len(p) > len("/containers//start") &&
		strings.HasPrefix(p, "/containers/") && strings.HasSuffix(p, "/start"):
		// "/containers/{name:.*}/start": the name may hold slashes.
		r.Kind, r.ContainerRef = ContainerStart, p[len("/containers/"):len(p)-len("/start")]
	case p == "/services/create" && r.Method == "POST":
		r.Kind = ServiceCreate
	case r.Method == "POST" && len(p) > len("/services//update") &&
		strings.HasPrefix(p, "/services/") && strings.HasSuffix(p, "/update"):
		// "/services/{id}/update": dockerd's {id} holds no slash, and a
		// path with one never reaches a handler; it is classified as
		// what it looks like all the same.
		r.Kind, r.ServiceRef = ServiceUpdate, p[len("/services/"):len(p)-len("/update")]
	case strings.HasPrefix(p, "/plugins/"):
		r.PluginName, r.PluginVerb = pluginTarget(r.Method, strings.TrimPrefix(p, "/plugins/"), r.Query)
		if r.PluginName != "" {
			r.Kind = Plugin
		} else {
			r.PluginVerb = ""
		}
	}
	return r
}

// requestPath returns the still-escaped path and the raw query that Go's
// net/http server (readRequest, then url.ParseRequestURI) would give
// dockerd's router for a request target, or false when it would refuse
// the target or leave URL.Path empty. It follows url.parse's success path
// without judging the authority: a host Go refuses only makes dockerd
// answer 400, and a host this Go refuses but dockerd's older Go accepts
// must not hide the path.
func requestPath(method, raw string) (rawPath, rawQuery string, ok bool) {
	if raw == "" || raw == "*" || hasCTL(raw) {
		return "", "", false
	}
	if raw[0] == '/' {
		// Origin-form, the hot path: no scheme, no authority. Go's server
		// does not look for an authority here, even after "//".
		rawPath, rawQuery = cutQuery(raw)
		return rawPath, rawQuery, true
	}
	if method == "CONNECT" {
		// readRequest parses a CONNECT target as "http://" + target.
		raw = "http://" + raw
	}
	rest, ok := afterScheme(raw)
	if !ok {
		return "", "", false
	}
	rest, rawQuery = cutQuery(rest)
	if strings.HasPrefix(rest, "//") {
		// Absolute-form: the path starts at the first slash after the
		// authority; none means an empty path.
		i := strings.IndexByte(rest[2:], '/')
		if i < 0 {
			return "", "", false
		}
		rest = rest[2+i:]
	}
	if !strings.HasPrefix(rest, "/") {
		// "x:y" is opaque: URL.Path is "", which no route matches.
		return "", "", false
	}
	return rest, rawQuery, true
}

// cutQuery splits the query off at the first "?", as url.parse does (its
// ForceQuery case, a lone trailing "?", gives the same path and query).
func cutQuery(s string) (rest, query string) {
	rest, query, _ = strings.Cut(s, "?")
	return rest, query
}

// afterScheme is what follows the scheme and its ":", as url.getScheme
// splits it: a letter, then letters, digits, "+", "-" or ".". It reports
// false without a scheme (no leading slash either: "invalid URI for
// request") and for a leading ":" ("missing protocol scheme").
func afterScheme(raw string) (rest string, ok bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return "", false
			}
		case c == ':':
			return raw[i+1:], i > 0
		default:
			return "", false
		}
	}
	return "", false
}

// hasCTL reports an ASCII control character (below 0x20, or 0x7f), which
// url.parse refuses. Every request pays for this scan, so it looks at
// eight bytes at a time: a byte below 0x20 borrows into its top bit when
// 0x20 is subtracted, and a 0x7f byte is zero after xor with 0x7f.
func hasCTL(s string) bool {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		del := w ^ 0x7f*ones
		if ((w-0x20*ones)&^w|(del-ones)&^del)&tops != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
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
// part of the path after "/plugins/", as moby's plugin router
// (api/server/router/plugin) matches it. Plugin names may contain slashes
// (registry/org/name:tag) and the routes' {name:.*} matches them, so the
// verb is taken from the end.
func pluginTarget(method, rest string, q url.Values) (name, verb string) {
	// The routes without a plugin name in the path, each for one method
	// only: DELETE /plugins/pull removes a plugin named "pull".
	switch {
	case rest == "", method == "GET" && rest == "privileges":
		return "", ""
	case method == "POST" && rest == "pull":
		// docker plugin install: the local name is ?name=, else ?remote=.
		return cmp.Or(q.Get("name"), q.Get("remote")), "install"
	case method == "POST" && rest == "create":
		// docker plugin create: a plugin from a tar, named ?name=.
		return q.Get("name"), "install"
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

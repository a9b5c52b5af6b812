package route

import (
	"bufio"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		method, uri string
		kind        Kind
		path, ver   string
		plugin      string
		verb        string
	}{
		{"POST", "/v1.41/containers/create?name=web", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "/containers/create", ContainerCreate, "/containers/create", "", "", ""},
		{"post", "/v1.41/containers%2Fcreate?name=x", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "/v1.41%2Fcontainers%2Fcreate", ContainerCreate, "/containers/create", "1.41", "", ""},
		// dockerd redirects (301) or 404s these and never runs a handler;
		// classifying them as creates is the strict side.
		{"POST", "/v1.41/containers/create/", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "/v1.41//containers/./create", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "/v1.41/containers/../containers/create", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "//containers/create", ContainerCreate, "/containers/create", "", "", ""},
		// gorilla/mux matches paths case-sensitively: dockerd answers 404
		// without a handler, so the plugin never sees these.
		{"POST", "/v1.41/Containers/create", Other, "/Containers/create", "1.41", "", ""},
		{"POST", "/V1.41/containers/create", Other, "/V1.41/containers/create", "", "", ""},

		// Absolute-form, any scheme: Go's server routes on the URL's path.
		{"POST", "http://x/v1.41/containers/create?name=web", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "HTTP://h/v1.41/containers/create", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "unix://d/containers/create", ContainerCreate, "/containers/create", "", "", ""},
		{"POST", "https://user:pw@h:99/v1.41/containers%2Fcreate", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "git+ssh.v2-x://h/containers/create", ContainerCreate, "/containers/create", "", "", ""},
		{"POST", "http:///v1.41/containers/create", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "http://x//containers/create", ContainerCreate, "/containers/create", "", "", ""},
		{"POST", "http://h?x/containers/create", Unparsable, "http://h", "", "", ""},
		// Authority-less "scheme:/path".
		{"POST", "x:/v1.41/containers/create", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "x://v1.41/containers/create", ContainerCreate, "/containers/create", "", "", ""},
		// Not reducible to a path dockerd routes on.
		{"POST", "x:v1.41/containers/create", Unparsable, "x:v1.41/containers/create", "", "", ""},
		{"POST", "http://x", Unparsable, "http://x", "", "", ""},
		{"POST", "http:", Unparsable, "http:", "", "", ""},
		{"POST", ":/containers/create", Unparsable, ":/containers/create", "", "", ""},
		{"POST", "1x:/containers/create", Unparsable, "1x:/containers/create", "", "", ""},
		{"POST", "containers/create", Unparsable, "containers/create", "", "", ""},
		{"POST", "/containers/create%zz", Unparsable, "/containers/create%zz", "", "", ""},
		{"POST", "http://x/containers/%zzcreate", Unparsable, "/containers/%zzcreate", "", "", ""},
		{"POST", "/containers/create\x00", Unparsable, "/containers/create\x00", "", "", ""},
		{"OPTIONS", "*", Unparsable, "*", "", "", ""},
		{"GET", "", Unparsable, "", "", "", ""},
		{"GET", "%zz/containers", Unparsable, "%zz/containers", "", "", ""},
		// CONNECT: Go's server reads "host/path" as "http://host/path".
		{"CONNECT", "x/v1.41/containers/json", Other, "/containers/json", "1.41", "", ""},
		{"CONNECT", "x:80", Unparsable, "x:80", "", "", ""},

		{"GET", "/v1.41/containers/create", Other, "/containers/create", "1.41", "", ""},
		{"GET", "/_ping", Ping, "/_ping", "", "", ""},
		{"HEAD", "/v1.24/_ping", Ping, "/_ping", "1.24", "", ""},
		{"GET", "http://x/_ping", Ping, "/_ping", "", "", ""},
		{"POST", "/_ping", Other, "/_ping", "", "", ""},
		{"GET", "/v1.41/containers/json?all=1", Other, "/containers/json", "1.41", "", ""},
		{"GET", "/v1.41/containers/abc/json", Other, "/containers/abc/json", "1.41", "", ""},

		{"POST", "/v1.41/plugins/hardened-authz:latest/disable", Plugin, "/plugins/hardened-authz:latest/disable", "1.41", "hardened-authz:latest", "disable"},
		{"POST", "/v1.41/plugins/acme/hardened-authz/set", Plugin, "/plugins/acme/hardened-authz/set", "1.41", "acme/hardened-authz", "set"},
		{"POST", "/plugins/x/upgrade?remote=y", Plugin, "/plugins/x/upgrade", "", "x", "upgrade"},
		{"DELETE", "/v1.41/plugins/hardened-authz", Plugin, "/plugins/hardened-authz", "1.41", "hardened-authz", "remove"},
		{"DELETE", "/v1.41/plugins/3f2a", Plugin, "/plugins/3f2a", "1.41", "3f2a", "remove"},
		{"DELETE", "http://x/v1.41/plugins/3f2a?force=1", Plugin, "/plugins/3f2a", "1.41", "3f2a", "remove"},
		{"POST", "x:/plugins/3f2a/disable", Plugin, "/plugins/3f2a/disable", "", "3f2a", "disable"},
		{"POST", "/v1.41/plugins%2Fhardened-authz%2Fdisable", Plugin, "/plugins/hardened-authz/disable", "1.41", "hardened-authz", "disable"},
		{"GET", "/v1.41/plugins/x/json", Plugin, "/plugins/x/json", "1.41", "x", "inspect"},
		{"GET", "/v1.41/plugins/privileges/json", Plugin, "/plugins/privileges/json", "1.41", "privileges", "inspect"},
		{"GET", "/v1.41/plugins", Other, "/plugins", "1.41", "", ""},
		{"GET", "/v1.41/plugins/privileges?remote=x", Other, "/plugins/privileges", "1.41", "", ""},
		// Installs name the new plugin in the query.
		{"POST", "/v1.41/plugins/pull?remote=vieux%2Fsshfs&name=hardened-authz", Plugin, "/plugins/pull", "1.41", "hardened-authz", "install"},
		{"POST", "/v1.41/plugins/pull?remote=vieux/sshfs:latest", Plugin, "/plugins/pull", "1.41", "vieux/sshfs:latest", "install"},
		{"POST", "http://x/v1.41/plugins/create?name=hardened-authz", Plugin, "/plugins/create", "1.41", "hardened-authz", "install"},
		{"POST", "/v1.41/plugins/pull", Other, "/plugins/pull", "1.41", "", ""},
		{"POST", "/v1.41/plugins/create?name=%zz", Other, "/plugins/create", "1.41", "", ""},
		// The name-less routes exist for one method only: any DELETE under
		// /plugins/ is the remove route, whatever the name.
		{"DELETE", "/v1.41/plugins/pull", Plugin, "/plugins/pull", "1.41", "pull", "remove"},
		{"DELETE", "/v1.41/plugins/privileges", Plugin, "/plugins/privileges", "1.41", "privileges", "remove"},
		{"DELETE", "/v1.41/plugins/create", Plugin, "/plugins/create", "1.41", "create", "remove"},
		{"POST", "/v1.41/plugins/pull/disable", Plugin, "/plugins/pull/disable", "1.41", "pull", "disable"},

		{"POST", "/v1.41/images/create?fromImage=dhi.io%2Fnode&tag=25", ImagePull, "/images/create", "1.41", "", ""},
		{"POST", "http://x/v1.41/images/create?fromImage=x", ImagePull, "/images/create", "1.41", "", ""},
		{"POST", "/v1.41/images/load?quiet=1", ImageLoad, "/images/load", "1.41", "", ""},
		{"GET", "/v1.41/images/load", Other, "/images/load", "1.41", "", ""},
		{"GET", "/vfoo/containers/create", Other, "/vfoo/containers/create", "", "", ""},
		{"GET", "/v1.41", Other, "/", "1.41", "", ""},
		{"GET", "/version", Other, "/version", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.uri, func(t *testing.T) {
			r := Parse(tt.method, tt.uri)
			if r.Kind != tt.kind || r.Path != tt.path || r.APIVersion != tt.ver || r.PluginName != tt.plugin || r.PluginVerb != tt.verb {
				t.Errorf("Parse(%q, %q) = kind %v path %q version %q plugin %q verb %q; want %v %q %q %q %q",
					tt.method, tt.uri, r.Kind, r.Path, r.APIVersion, r.PluginName, r.PluginVerb,
					tt.kind, tt.path, tt.ver, tt.plugin, tt.verb)
			}
		})
	}
}

func TestParseService(t *testing.T) {
	tests := []struct {
		method, uri string
		kind        Kind
		ref         string
	}{
		{"POST", "/v1.41/services/create", ServiceCreate, ""},
		{"POST", "/services/create", ServiceCreate, ""},
		{"POST", "http://x/v1.44/services/create", ServiceCreate, ""},
		{"POST", "/v1.41/services%2Fcreate", ServiceCreate, ""},
		{"POST", "/v1.41/services/create/", ServiceCreate, ""},
		{"POST", "/v1.41/services/shop_app/update?version=42", ServiceUpdate, "shop_app"},
		{"POST", "/v1.41/services/ulm6pj4zq2a9/update", ServiceUpdate, "ulm6pj4zq2a9"},
		{"POST", "/v1.41/services/create/update", ServiceUpdate, "create"},
		{"POST", "/v1.41/services//update", Other, ""},
		{"POST", "/v1.41/services/update", Other, ""},
		{"GET", "/v1.41/services/create", Other, ""},
		{"GET", "/v1.41/services/web", Other, ""},
		{"DELETE", "/v1.41/services/web", Other, ""},
		{"POST", "/v1.41/services/web/rollback", Other, ""},
	}
	for _, tt := range tests {
		r := Parse(tt.method, tt.uri)
		if r.Kind != tt.kind || r.ServiceRef != tt.ref {
			t.Errorf("Parse(%q, %q) = kind %v ref %q; want %v %q", tt.method, tt.uri, r.Kind, r.ServiceRef, tt.kind, tt.ref)
		}
	}
	if got := ServiceCreate.String() + " " + ServiceUpdate.String(); got != "service.create service.update" {
		t.Errorf("kind strings: %q", got)
	}
}

func TestParseContainerStart(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		method, uri string
		kind        Kind
		ref         string
	}{
		{"POST", "/v1.41/containers/" + id + "/start", ContainerStart, id},
		{"POST", "/containers/web/start?detachKeys=ctrl-p", ContainerStart, "web"},
		{"POST", "http://x/v1.41/containers/web/start", ContainerStart, "web"},
		{"POST", "/v1.41/containers/web%2Fstart", ContainerStart, "web"},
		// {name:.*} matches slashes; dockerd then looks "a/b" up.
		{"POST", "/v1.41/containers/a/b/start", ContainerStart, "a/b"},
		{"POST", "/v1.41/containers/create/start", ContainerStart, "create"},
		{"POST", "/v1.41/containers/start", Other, ""},
		{"POST", "/v1.41/containers//start", Other, ""},
		{"POST", "/v1.41/containers/web/stop", Other, ""},
		{"GET", "/v1.41/containers/web/start", Other, ""},
		{"POST", "/v1.41/exec/web/start", Other, ""},
	}
	for _, tt := range tests {
		r := Parse(tt.method, tt.uri)
		if r.Kind != tt.kind || r.ContainerRef != tt.ref {
			t.Errorf("Parse(%q, %q) = kind %v ref %q; want %v %q", tt.method, tt.uri, r.Kind, r.ContainerRef, tt.kind, tt.ref)
		}
	}
}

// Every byte value at every offset of a word and of the tail.
func TestHasCTL(t *testing.T) {
	for c := range 256 {
		for pos := range 19 {
			b := []byte("/containers/abc/jso")
			b[pos] = byte(c)
			if got, want := hasCTL(string(b)), c < ' ' || c == 0x7f; got != want {
				t.Fatalf("hasCTL with byte %#x at %d = %v", c, pos, got)
			}
		}
	}
}

func TestParseQuery(t *testing.T) {
	r := Parse("POST", "/v1.41/containers/create?name=my%20app&platform=linux")
	if got := r.Query.Get("name"); got != "my app" {
		t.Errorf("name = %q, want %q", got, "my app")
	}
	if r := Parse("POST", "/containers/create?name=%zz"); r.Kind != ContainerCreate || r.Query != nil {
		t.Errorf("bad query: kind %v query %v; want create with no query", r.Kind, r.Query)
	}
	if r := Parse("POST", "http://h/containers/create?name=web"); r.Query.Get("name") != "web" {
		t.Errorf("absolute-form query: %v", r.Query)
	}
	if r := Parse("POST", "/containers/create?"); r.Kind != ContainerCreate || r.Query != nil {
		t.Errorf("empty query: kind %v query %v", r.Kind, r.Query)
	}
}

func TestParseHugeURI(t *testing.T) {
	r := Parse("POST", "/v1.41/containers/create?name="+strings.Repeat("a", 1<<20))
	if r.Kind != ContainerCreate || len(r.Query.Get("name")) != 1<<20 {
		t.Fatalf("huge name: kind %v, name length %d", r.Kind, len(r.Query.Get("name")))
	}
}

// TestParseMatchesGoServer runs every table target through the real
// net/http request parser and the transcribed router (dockerdRoute) too.
func TestParseMatchesGoServer(t *testing.T) {
	for _, s := range seeds {
		checkParse(t, s[0], s[1])
	}
}

var seeds = [][2]string{
	{"POST", "/v1.41/services/create"},
	{"POST", "/v1.41/services/web/update?version=12"},
	{"POST", "/services/create/update"},
	{"POST", "/v1.41/containers/create?name=x"},
	{"POST", "/containers%2Fcreate"},
	{"POST", "http://x/v1.41/containers/create"},
	{"POST", "HTTP://h/v1.41/containers/create"},
	{"POST", "x:/v1.41/containers/create"},
	{"POST", "unix://d/containers/create"},
	{"POST", "x:v1.41/containers/create"},
	{"POST", "http://x//containers/create"},
	{"POST", "//x/containers/create"},
	{"POST", "/containers/create/"},
	{"POST", "/v1.41/containers/a/b/start"},
	{"POST", "/plugins/a/b/disable"},
	{"DELETE", "http://x/v1.41/plugins/3f2a"},
	{"DELETE", "/plugins/x/"},
	{"DELETE", "/plugins/pull"},
	{"GET", "/plugins/privileges"},
	{"POST", "/plugins/pull?remote=x&name=y"},
	{"POST", "http://h/plugins/create?name=y"},
	{"GET", "/_ping"},
	{"CONNECT", "h/v1.41/containers/create"},
	{"POST", "%"},
	{"POST", "/v/"},
	{"POST", "/v1..2/x"},
	{"POST", "*"},
	{"POST", "http://[::1/containers/create"},
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(checkParse)
}

// checkParse is the property every (method, target) must have.
func checkParse(t *testing.T, method, uri string) {
	if want := strings.ContainsFunc(uri, func(c rune) bool { return c < ' ' || c == 0x7f }); hasCTL(uri) != want {
		t.Fatalf("hasCTL(%q) = %v", uri, !want)
	}
	r := Parse(method, uri)
	if r.Kind == ContainerCreate && r.Path != "/containers/create" {
		t.Fatalf("create with path %q", r.Path)
	}
	if r.Kind == Plugin && (r.PluginName == "" || r.PluginVerb == "") {
		t.Fatalf("plugin route without name or verb: %+v", r)
	}
	if r.Kind == ContainerStart && r.ContainerRef == "" {
		t.Fatalf("start without a container: %+v", r)
	}
	if r.Kind == ServiceCreate && r.Path != "/services/create" {
		t.Fatalf("service create with path %q", r.Path)
	}
	if r.Kind == ServiceUpdate && r.ServiceRef == "" {
		t.Fatalf("service update without a service: %+v", r)
	}
	if r.Kind == Unparsable {
		return
	}
	if !strings.HasPrefix(r.Path, "/") {
		t.Fatalf("path %q does not start with /", r.Path)
	}

	// What dockerd would do: Go's server parses the target, mux routes
	// the URL path. Whatever it routes to a guarded handler, Parse must
	// classify so.
	if got, ok := dockerdRoute(method, uri); ok {
		_, want := splitVersion(path.Clean(got.path))
		if r.Path != want {
			t.Fatalf("Parse(%q, %q).Path = %q; Go's server routes on %q", method, uri, r.Path, want)
		}
		switch {
		case got.kind == ContainerCreate && r.Kind != ContainerCreate,
			got.kind == ContainerStart && (r.Kind != ContainerStart || r.ContainerRef != got.name),
			got.kind == ServiceCreate && r.Kind != ServiceCreate,
			got.kind == ServiceUpdate && (r.Kind != ServiceUpdate || r.ServiceRef != got.name),
			got.kind == Plugin && (r.Kind != Plugin || r.PluginVerb != got.verb),
			got.kind == Plugin && !strings.HasSuffix(got.path, "/") && r.PluginName != got.name:
			t.Fatalf("Parse(%q, %q) = %v %q %q %q; dockerd routes it to %v %q %q",
				method, uri, r.Kind, r.PluginName, r.PluginVerb, r.ContainerRef, got.kind, got.name, got.verb)
		}
	}

	// The form of the target does not matter: the same origin-form
	// target in absolute-form, or after "scheme:", routes the same
	// (CONNECT aside: Go's server reads its target as an authority).
	if strings.HasPrefix(uri, "/") && r.Method != "CONNECT" {
		forms := []string{"http://h" + uri, "UNIX://" + uri}
		if !strings.HasPrefix(uri, "//") {
			forms = append(forms, "x:"+uri)
		}
		for _, form := range forms {
			if again := Parse(method, form); !sameRoute(again, r) {
				t.Fatalf("Parse(%q, %q) = %+v\nbut %q gives %+v", method, form, again, uri, r)
			}
		}
	}

	// Classification must not depend on how the path was encoded: the
	// decoded path under any version prefix routes the same way.
	if strings.ContainsAny(r.Path, "?%") || hasCTL(r.Path) {
		return
	}
	again := "/v1.99" + r.Path
	if r.Query != nil {
		again += "?" + r.Query.Encode()
	}
	if again := Parse(method, again); again.Kind != r.Kind || again.Path != r.Path {
		t.Fatalf("re-parsing %q gives %v %q, first parse %v %q", r.Path, again.Kind, again.Path, r.Kind, r.Path)
	}
}

func sameRoute(a, b Route) bool {
	return a.Kind == b.Kind && a.Method == b.Method && a.Path == b.Path && a.APIVersion == b.APIVersion &&
		a.PluginName == b.PluginName && a.PluginVerb == b.PluginVerb && a.ContainerRef == b.ContainerRef &&
		a.ServiceRef == b.ServiceRef && a.Query.Encode() == b.Query.Encode()
}

// routed is where dockerd sends a request: the kind of the handler (Other
// for any handler the plugin does not single out), the route's {name}, and
// for plugin routes the verb.
type routed struct {
	path, name, verb string
	kind             Kind
}

// The guarded routes of moby v20.10.24's api/server/router (container and
// plugin routers), each registered by createMux as "/v{version:[0-9.]+}"+
// route and as the route alone; gorilla/mux anchors every template and
// turns {name:.*} into (.*), where "." does not match a newline.
var (
	versioned    = `^(?:/v[0-9.]+)?`
	createRoute  = regexp.MustCompile(versioned + `/containers/create$`)
	startRoute   = regexp.MustCompile(versioned + `/containers/(.*)/start$`)
	pluginVerb   = regexp.MustCompile(versioned + `/plugins/(.*)/(enable|disable|push|upgrade|set)$`)
	pluginJSON   = regexp.MustCompile(versioned + `/plugins/(.*)/json$`)
	pluginDelete = regexp.MustCompile(versioned + `/plugins/(.*)$`)
	pluginFixed  = regexp.MustCompile(versioned + `/plugins/(pull|create)$`)
	// The swarm router's service routes: {id} is mux's default [^/]+.
	serviceCreate = regexp.MustCompile(versioned + `/services/create$`)
	serviceUpdate = regexp.MustCompile(versioned + `/services/([^/]+)/update$`)
)

// dockerdRoute is what dockerd 20.10 does with a request line: the real
// net/http request parser (http.ReadRequest is the server's readRequest),
// then gorilla/mux v1.8.0's ServeHTTP: a path that mux's cleanPath changes
// is redirected, never routed. ok is false when no handler would run.
func dockerdRoute(method, target string) (routed, bool) {
	if method == "" || target == "" || strings.ContainsAny(method+target, " \r\n") {
		return routed{}, false
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: h\r\n\r\n")))
	if err != nil {
		return routed{}, false
	}
	p := req.URL.Path
	if muxCleanPath(p) != p {
		return routed{}, false
	}
	got := routed{path: p, kind: Other}
	switch m := req.Method; {
	case m == "POST" && createRoute.MatchString(p):
		got.kind = ContainerCreate
	case m == "POST" && serviceCreate.MatchString(p):
		got.kind = ServiceCreate
	case m == "POST" && serviceUpdate.MatchString(p):
		got.kind, got.name = ServiceUpdate, serviceUpdate.FindStringSubmatch(p)[1]
	case m == "POST" && startRoute.MatchString(p):
		got.kind, got.name = ContainerStart, startRoute.FindStringSubmatch(p)[1]
	case m == "POST" && pluginFixed.MatchString(p):
		// The handler parses the form first: a bad query is a 400.
		if q, err := url.ParseQuery(req.URL.RawQuery); err == nil {
			got.kind, got.verb = Plugin, "install"
			if got.name = q.Get("name"); got.name == "" && strings.HasSuffix(p, "/pull") {
				got.name = q.Get("remote")
			}
		}
	case m == "POST" && pluginVerb.MatchString(p):
		s := pluginVerb.FindStringSubmatch(p)
		got.kind, got.name, got.verb = Plugin, s[1], s[2]
	case m == "GET" && pluginJSON.MatchString(p):
		got.kind, got.name, got.verb = Plugin, pluginJSON.FindStringSubmatch(p)[1], "inspect"
	case m == "DELETE" && pluginDelete.MatchString(p):
		got.kind, got.name, got.verb = Plugin, pluginDelete.FindStringSubmatch(p)[1], "remove"
	}
	if got.kind == Plugin && got.name == "" {
		// DELETE /plugins/ reaches the handler with an empty name, which
		// names no plugin.
		got.kind = Other
	}
	return got, true
}

// muxCleanPath is gorilla/mux v1.8.0's cleanPath: path.Clean that keeps a
// trailing slash.
func muxCleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// The hot path: while docker compose waits for a healthy service it polls
// container list and inspect; 97% of the calls in a recorded run.
func BenchmarkParse(b *testing.B) {
	for _, uri := range []string{
		"/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%7B%22com.docker.compose.project%3Dseed%22%3Atrue%7D%7D",
		"/v1.41/containers/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/json",
		"/v1.41/containers/create?name=seed-app-1",
	} {
		b.Run(uri[:min(len(uri), 40)], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Parse("GET", uri)
			}
		})
	}
}

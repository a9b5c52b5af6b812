package route

import (
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
		{"POST", "/v1.41/containers/create/", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "/v1.41//containers/./create", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "/v1.41/containers/../containers/create", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"POST", "/v1.41%2Fcontainers%2Fcreate", ContainerCreate, "/containers/create", "1.41", "", ""},
		{"GET", "/v1.41/containers/create", Other, "/containers/create", "1.41", "", ""},
		{"POST", "/v1.41/containers/abc/start", Other, "/containers/abc/start", "1.41", "", ""},
		{"GET", "/_ping", Ping, "/_ping", "", "", ""},
		{"HEAD", "/v1.24/_ping", Ping, "/_ping", "1.24", "", ""},
		{"POST", "/_ping", Other, "/_ping", "", "", ""},
		{"GET", "/v1.41/containers/json?all=1", Other, "/containers/json", "1.41", "", ""},
		{"POST", "/v1.41/plugins/hardened-authz:latest/disable", Plugin, "/plugins/hardened-authz:latest/disable", "1.41", "hardened-authz:latest", "disable"},
		{"POST", "/v1.41/plugins/acme/hardened-authz/set", Plugin, "/plugins/acme/hardened-authz/set", "1.41", "acme/hardened-authz", "set"},
		{"POST", "/plugins/x/upgrade?remote=y", Plugin, "/plugins/x/upgrade", "", "x", "upgrade"},
		{"DELETE", "/v1.41/plugins/hardened-authz", Plugin, "/plugins/hardened-authz", "1.41", "hardened-authz", "remove"},
		{"POST", "/v1.41/plugins%2Fhardened-authz%2Fdisable", Plugin, "/plugins/hardened-authz/disable", "1.41", "hardened-authz", "disable"},
		{"GET", "/v1.41/plugins/x/json", Plugin, "/plugins/x/json", "1.41", "x", "inspect"},
		{"GET", "/v1.41/plugins", Other, "/plugins", "1.41", "", ""},
		{"POST", "/v1.41/plugins/pull?remote=x", Other, "/plugins/pull", "1.41", "", ""},
		{"GET", "/version", Other, "/version", "", "", ""},
		{"POST", "/v1.41/images/create?fromImage=dhi.io%2Fnode&tag=25", ImagePull, "/images/create", "1.41", "", ""},
		{"POST", "/v1.41/images/load?quiet=1", ImageLoad, "/images/load", "1.41", "", ""},
		{"GET", "/v1.41/images/load", Other, "/images/load", "1.41", "", ""},
		{"GET", "/vfoo/containers/create", Other, "/vfoo/containers/create", "", "", ""},
		{"GET", "/v1.41", Other, "/", "1.41", "", ""},
		{"GET", "", Other, "/", "", "", ""},
		{"GET", "%zz/containers", Other, "/%zz/containers", "", "", ""},
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

func TestParseQuery(t *testing.T) {
	r := Parse("POST", "/v1.41/containers/create?name=my%20app&platform=linux")
	if got := r.Query.Get("name"); got != "my app" {
		t.Errorf("name = %q, want %q", got, "my app")
	}
	if r := Parse("POST", "/containers/create?name=%zz"); r.Kind != ContainerCreate || r.Query != nil {
		t.Errorf("bad query: kind %v query %v; want create with no query", r.Kind, r.Query)
	}
}

func TestParseHugeURI(t *testing.T) {
	r := Parse("POST", "/v1.41/containers/create?name="+strings.Repeat("a", 1<<20))
	if r.Kind != ContainerCreate || len(r.Query.Get("name")) != 1<<20 {
		t.Fatalf("huge name: kind %v, name length %d", r.Kind, len(r.Query.Get("name")))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"/v1.41/containers/create?name=x", "/containers%2Fcreate", "/plugins/a/b/disable", "/_ping", "%", "/v/", "/v1..2/x"} {
		f.Add("POST", s)
	}
	f.Fuzz(func(t *testing.T, method, uri string) {
		r := Parse(method, uri)
		if !strings.HasPrefix(r.Path, "/") {
			t.Fatalf("path %q does not start with /", r.Path)
		}
		if r.Kind == ContainerCreate && r.Path != "/containers/create" {
			t.Fatalf("create with path %q", r.Path)
		}
		if r.Kind == Plugin && (r.PluginName == "" || r.PluginVerb == "") {
			t.Fatalf("plugin route without name or verb: %+v", r)
		}
		// Classification must not depend on how the path was encoded: the
		// decoded path under any version prefix routes the same way.
		if strings.ContainsAny(r.Path, "?%") {
			return
		}
		if again := Parse(method, "/v1.99"+r.Path); again.Kind != r.Kind || again.Path != r.Path {
			t.Fatalf("re-parsing %q gives %v %q, first parse %v %q", r.Path, again.Kind, again.Path, r.Kind, r.Path)
		}
	})
}

package input

import (
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/netns"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

// The direct Rego value must say exactly what the documented JSON says.
func TestValueMatchesJSON(t *testing.T) {
	img := imagefacts.Named("dhi.io/node:25")
	img.Source, img.Found, img.ID, img.Err = imagefacts.SourceDaemon, true, "sha256:x", "e"
	img.Labels = map[string]string{"b": "2", "a": "1"}
	img.Healthcheck = &container.HealthConfig{Test: []string{"CMD-SHELL", "curl -f http://localhost/ | grep ok"}, Retries: 3}
	docs := []Document{
		build(t, `{"Image":"dhi.io/node:25","Env":["PATH=/x"],"Labels":{"com.docker.compose.project":"p","com.docker.compose.service":"s"},
			"HostConfig":{"NetworkMode":"container:abc","Memory":1048576,"PortBindings":{"80/tcp":[{"HostPort":"8080"}]}}}`, img).
			WithNetworkTarget(netns.Target{Found: true, ID: "abc", Name: "p-app-1", Image: "dhi.io/node:25", Running: true, Labels: map[string]string{LabelComposeProject: "p", LabelComposeService: "app"}}),
		build(t, `{"Image":"x","HostConfig":{"NetworkMode":"container:gone"}}`, imagefacts.Named("x")).
			WithNetworkTarget(netns.Target{Err: "no such container"}),
		build(t, `{"Image":"x","Healthcheck":{"Test":["CMD","curl","http://localhost:3000/"]}}`, imagefacts.Named("x")).
			WithProbeApp(netns.Target{Found: true, Name: "web", Labels: map[string]string{LabelComposeProject: "p", LabelComposeService: "web"}}),
		build(t, `{"Image":"x"}`, imagefacts.Named("x")),
		build(t, `{"Image":"x"}`, imagefacts.Named("x")).WithService("shop_app", "shop"),
		ForRequest(route.Parse("DELETE", "/v1.41/plugins/a/b:1?force=1&force=2"), Caller{User: "cn", AuthMethod: "TLS"}, "hardened-authz"),
	}
	// A compose service with depends_on, inside its project.
	web := build(t, `{"Image":"x","Labels":{"com.docker.compose.project":"p","com.docker.compose.service":"web"}}`, imagefacts.Named("x"))
	web.Container.Compose.DependsOn = map[string]Dependency{"db": {Condition: "service_healthy", Required: true}, "api": {Condition: "service_started"}}
	project := NewProject("p", map[string]Document{"web": web, "db": docs[3]})
	withProject := web
	withProject.Project = project
	// Built without NewProject, the value is the same.
	bare := web
	bare.Project = &Project{Name: "p", Services: project.Services}
	docs = append(docs, web, withProject, bare)
	for _, d := range docs {
		want, err := ast.InterfaceToValue(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Value(); got.Compare(want) != 0 {
			t.Errorf("Value() differs from the JSON encoding:\n got  %v\n want %v", got, want)
		}
	}
}

// The project's index is the reverse of depends_on and of network_mode
// "service:", for every service and every name they give.
func TestProjectIndex(t *testing.T) {
	svc := func(deps map[string]Dependency, net Network) Document {
		return Document{Container: &Container{Compose: &Compose{DependsOn: deps}, Network: net}}
	}
	p := NewProject("p", map[string]Document{
		"app":    svc(nil, Network{Mode: "default"}),
		"health": svc(map[string]Dependency{"app": {Condition: "service_started"}}, Network{Mode: "container", Target: "app"}),
		"probe":  svc(nil, Network{Mode: "container", Target: "app"}),
		"web": svc(map[string]Dependency{
			"health": {Condition: "service_healthy"},
			"app":    {Condition: "service_completed_successfully"},
			"gone":   {Condition: "service_started"},
		}, Network{Mode: "bridge"}),
		"plugin": {},
	})
	want := map[string]Relations{
		"app": {
			Dependents: map[string]string{"health": "service_started", "web": "service_completed_successfully"},
			JoinedBy:   []string{"health", "probe"},
		},
		"health": {Dependents: map[string]string{"web": "service_healthy"}},
		"probe":  {},
		"web":    {},
		"plugin": {},
		"gone":   {Dependents: map[string]string{"web": "service_started"}},
	}
	if !reflect.DeepEqual(p.Index, want) {
		t.Errorf("Index = %v, want %v", p.Index, want)
	}
	// The index is part of the shared value, as its JSON says.
	wantIdx, err := ast.InterfaceToValue(p.Index)
	if err != nil {
		t.Fatal(err)
	}
	got := p.term.Value.(ast.Object).Get(ast.StringTerm("index"))
	if got == nil || got.Value.Compare(wantIdx) != 0 {
		t.Errorf("project value's index = %v, want %v", got, wantIdx)
	}
}

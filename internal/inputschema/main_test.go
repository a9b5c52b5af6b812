package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/hardened-authz/hardened-authz/internal/compose"
	"github.com/hardened-authz/hardened-authz/internal/createreq"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/netns"
	"github.com/hardened-authz/hardened-authz/internal/pluginref"
	"github.com/hardened-authz/hardened-authz/internal/route"
	"github.com/hardened-authz/hardened-authz/internal/servicereq"
)

// schemaFile is the committed schema, shipped with the Rego library.
const schemaFile = "../../rego/schemas/input.json"

// The committed schema is what the Go types generate: a field added,
// renamed or retyped in internal/input fails here until `go generate
// ./internal/inputschema` rewrites the file.
func TestSchemaFileIsCurrent(t *testing.T) {
	want, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the Go types in internal/input generate: run `go generate ./internal/inputschema`", schemaFile)
	}
}

// Real documents, built by the constructors production uses, are valid
// against the schema, judged by the JSON Schema implementation OPA itself
// uses (json.match_schema): no field the schema does not declare (every
// struct is closed), none it requires missing, every type right. Together
// the documents set every property the schema declares, so a property that
// no document carries (a json tag that Document.Value spells differently)
// fails too.
func TestDocumentsMatchSchema(t *testing.T) {
	schema := loadSchema(t)
	seen := map[string]bool{}
	for name, doc := range documents(t) {
		v := doc.Value()
		if ok, errs := match(t, v, schema); !ok {
			t.Errorf("%s: the document does not match the schema: %v", name, errs)
		}
		var j any
		if err := json.Unmarshal([]byte(v.String()), &j); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		walk(schema, schema, j, "Document", seen)
	}
	for _, p := range properties(schema) {
		if !seen[p] {
			t.Errorf("no document sets %s: add one that does, or the schema declares a field the input never has", p)
		}
	}
}

// The validator does reject a misspelled field, so the test above means
// something.
func TestSchemaRejectsUndeclaredField(t *testing.T) {
	schema := loadSchema(t)
	for name, doc := range documents(t) {
		if doc.Container == nil {
			continue
		}
		v := doc.Value().(ast.Object)
		c := v.Get(ast.StringTerm("container")).Value.(ast.Object).Copy()
		c.Insert(ast.StringTerm("helthcheck"), c.Get(ast.StringTerm("healthcheck")))
		bad := v.Copy()
		bad.Insert(ast.StringTerm("container"), ast.NewTerm(c))
		if ok, _ := match(t, bad, schema); ok {
			t.Errorf("%s: a container with helthcheck matches the schema", name)
		}
		return
	}
	t.Fatal("no document has a container")
}

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// match validates a document with OPA's json.match_schema.
func match(t *testing.T, doc ast.Value, schema map[string]any) (bool, any) {
	t.Helper()
	s, err := ast.InterfaceToValue(schema)
	if err != nil {
		t.Fatal(err)
	}
	in := ast.NewObject([2]*ast.Term{ast.StringTerm("doc"), ast.NewTerm(doc)}, [2]*ast.Term{ast.StringTerm("schema"), ast.NewTerm(s)})
	rs, err := rego.New(rego.Query("r := json.match_schema(input.doc, input.schema)"), rego.ParsedInput(in)).Eval(context.Background())
	if err != nil || len(rs) != 1 {
		t.Fatalf("json.match_schema: %v %v", rs, err)
	}
	r := rs[0].Bindings["r"].([]any)
	return r[0].(bool), r[1]
}

// properties lists every property the schema declares, as
// "<definition>.<property>" ("Document" is the root).
func properties(schema map[string]any) []string {
	var out []string
	add := func(def string, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		for p := range props {
			out = append(out, def+"."+p)
		}
	}
	add("Document", schema)
	for name, d := range schema["definitions"].(map[string]any) {
		add(name, d.(map[string]any))
	}
	sort.Strings(out)
	return out
}

// walk marks in seen each property of s that value sets, following the
// schema alongside the value; def names the definition s belongs to.
func walk(root, s map[string]any, value any, def string, seen map[string]bool) {
	if ref, ok := s["$ref"].(string); ok {
		if ref == "#" {
			walk(root, root, value, "Document", seen)
			return
		}
		name := strings.TrimPrefix(ref, "#/definitions/")
		walk(root, root["definitions"].(map[string]any)[name].(map[string]any), value, name, seen)
		return
	}
	switch v := value.(type) {
	case map[string]any:
		if props, ok := s["properties"].(map[string]any); ok {
			for k, x := range v {
				seen[def+"."+k] = true
				if ps, ok := props[k].(map[string]any); ok {
					walk(root, ps, x, def, seen)
				}
			}
		} else if vs, ok := s["additionalProperties"].(map[string]any); ok {
			for _, x := range v {
				walk(root, vs, x, def, seen)
			}
		}
	case []any:
		if is, ok := s["items"].(map[string]any); ok {
			for _, x := range v {
				walk(root, is, x, def, seen)
			}
		}
	}
}

// files answers lookups as an image with /bin/sh a symlink to dash and
// curl present.
type files struct{}

func (files) LookPath(name string, path []string) (string, bool) {
	switch name {
	case "/bin/sh", "/usr/bin/curl", "/app/bin/curl", "/usr/local/bin/node":
		return name, true
	case "curl":
		return "/usr/bin/curl", true
	}
	return "", false
}

func (files) Resolve(p string) (string, bool) {
	if p == "/bin/sh" {
		return "/usr/bin/dash", true
	}
	return p, true
}

// permFiles holds /usr/bin/probe, which only root may execute.
type permFiles struct{ files }

func (permFiles) LookPath(name string, path []string) (string, bool) {
	if name == "/usr/bin/probe" {
		return name, true
	}
	return files{}.LookPath(name, path)
}

func (permFiles) ExecutableBy(p, user string) (bool, bool, string) {
	return p != "/usr/bin/probe" || user == "" || user == "0", true, "uid " + user
}

// documents are what the plugin and `authz check` build: dockerd
// requests (a create with every fact the daemon can add, a plugin request,
// an ordinary one) and the services of a compose project.
func documents(t *testing.T) map[string]input.Document {
	t.Helper()
	docs := map[string]input.Document{}
	caller := input.Caller{User: "ci", AuthMethod: "TLS", UserAgent: "docker/28.0"}

	create := func(uri, body string, img imagefacts.Facts) input.Document {
		t.Helper()
		rt := route.Parse("POST", uri)
		req, err := createreq.Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return input.ForRequest(rt, caller, "hardened-authz").WithCreate(rt.Query.Get("name"), req, img)
	}
	img := imagefacts.Named("dhi.io/node:25-debian13-dev")
	img.Source, img.Found, img.ID = imagefacts.SourceDaemon, true, "sha256:5b0c"
	img.Labels = map[string]string{"com.docker.dhi.shell": "/bin/bash"}
	img.Shell = []string{"/bin/bash", "-c"}
	img.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	img.Healthcheck = &container.HealthConfig{Test: []string{"CMD", "node", "check.js"}}
	sidecar := create("/v1.41/containers/create?name=shop-app-health-1", `{
		"Image": "dhi.io/curl:8-debian13-dev",
		"Entrypoint": ["sleep"], "Cmd": ["infinity"],
		"Labels": {"com.docker.compose.project": "shop", "com.docker.compose.service": "app-health"},
		"Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost:3000/health || exit 1"], "Interval": 30000000000, "Retries": 3},
		"HostConfig": {"NetworkMode": "container:shop-app-1", "Memory": 33554432,
			"PortBindings": {"3000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "3000"}]}}
	}`, img).WithIndex(files{})
	app := netns.Target{Found: true, ID: "0123abcd", Name: "shop-app-1", Image: "dhi.io/node:25", Running: true,
		Labels: map[string]string{input.LabelComposeProject: "shop", input.LabelComposeService: "app"}}
	docs["dockerd create, network target"] = sidecar.WithNetworkTarget(app)
	docs["dockerd create, probe app"] = sidecar.WithProbeApp(netns.Target{Err: "no running container publishes port 3000"})

	// The catalog entry the policy engine hands the rules
	// (policy.EntryQuery), as a document carries it.
	withEntry := sidecar
	withEntryImage := *withEntry.Image
	withEntryImage.Catalog = &input.CatalogFacts{Entry: map[string]any{"family": "dhi-curl-dev", "shell": true, "programs": map[string]any{"curl": true}}}
	withEntry.Image = &withEntryImage
	docs["dockerd create, catalog entry"] = withEntry

	// A relative PATH entry, a bind mount and a tmpfs decide lookups.
	docs["dockerd create, mounts"] = create("/containers/create", `{
		"Image": "dhi.io/node:25-debian13-dev", "WorkingDir": "/app",
		"Env": ["PATH=bin:/opt/tools:/usr/local/bin"],
		"Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost:3000/ && jq . && node x.js"]},
		"HostConfig": {"Binds": ["/srv/tools:/opt/tools:ro"], "Tmpfs": {"/usr/local": ""}}
	}`, img).WithIndex(files{})

	// A non-root user who may not execute the probe.
	docs["dockerd create, user"] = create("/containers/create", `{
		"Image": "dhi.io/node:25-debian13-dev", "User": "65532",
		"Healthcheck": {"Test": ["CMD", "/usr/bin/probe"]}
	}`, img).WithIndex(permFiles{})

	unknown := imagefacts.Named("registry.local/app")
	unknown.Err = "image inspect did not answer within 2s"
	docs["dockerd create, catalog"] = create("/containers/create", `{"Image": "registry.local/app"}`, unknown)
	docs["dockerd plugin"] = input.ForRequest(route.Parse("POST", "/v1.41/plugins/acme%2Fhardened-authz:latest/disable"), caller, "hardened-authz")
	byID := input.ForRequest(route.Parse("DELETE", "/v1.41/plugins/3f2a"), caller, "hardened-authz")
	docs["dockerd plugin, resolved"] = byID.WithPluginTarget(pluginref.Target{Ref: "3f2a", Lookup: pluginref.Found, ID: "3f2a" + strings.Repeat("0", 60), Name: "acme/hardened-authz:latest"})
	docs["dockerd plugin, unresolved"] = byID.WithPluginTarget(pluginref.Target{Ref: "3f2a", Lookup: pluginref.Failed, Err: "plugin inspect did not answer within 1s (--daemon-timeout)"})
	// A swarm service, decoded as the plugin decodes it.
	svc, err := servicereq.Decode([]byte(`{"Name": "shop_app", "Labels": {"com.docker.stack.namespace": "shop"},
		"TaskTemplate": {"ContainerSpec": {"Image": "dhi.io/node:25-debian13-dev",
			"Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost:3000/"]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	docs["dockerd service"] = input.ForRequest(route.Parse("POST", "/v1.41/services/create"), caller, "hardened-authz").
		WithService(svc.Name, svc.Stack).WithCreate(svc.Name, svc.Create, img).WithIndex(files{})
	docs["dockerd other"] = input.ForRequest(route.Parse("GET", "/v1.41/containers/json?all=1"), caller, "hardened-authz")

	for name, d := range composeDocuments(t) {
		docs["compose "+name] = d
	}
	return docs
}

// composeDocuments builds a project's documents as `authz check` does
// (internal/check): each service's, then the project on each.
func composeDocuments(t *testing.T) map[string]input.Document {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(`name: shop
services:
  app:
    image: dhi.io/node:25
    ports: ["3000:3000"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
    entrypoint: ["sleep", "infinity"]
    mem_limit: 32m
  worker:
    image: dhi.io/node:25
    depends_on:
      app-health: {condition: service_healthy, required: false}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.Options{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]input.Document{}
	for _, name := range p.Services() {
		docs[name] = p.Document(name, imagefacts.Image{Facts: imagefacts.Named(p.Model.Services[name].Image)}).WithIndex(files{})
	}
	project := input.NewProject(p.Name, docs)
	for name, d := range docs {
		d.Project = project
		docs[name] = d
	}
	return docs
}

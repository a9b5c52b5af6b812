package input

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/hardened-authz/hardened-authz/internal/createreq"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

func build(t *testing.T, body string, img imagefacts.Facts) Document {
	t.Helper()
	req, err := createreq.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	rt := route.Parse("POST", "/v1.41/containers/create?name=web")
	return ForRequest(rt, Caller{UserAgent: "Docker-Client/28.2.2 (linux)"}, "hardened-authz").WithCreate("web", req, img)
}

func TestHealthcheckForms(t *testing.T) {
	tests := []struct {
		name, hc  string
		img       *container.HealthConfig
		imgShell  []string
		want      Healthcheck
		wantShell string
	}{
		{
			name: "exec form",
			hc:   `{"Test":["CMD","curl","-f","http://localhost:3000/health"],"Interval":30000000000}`,
			want: Healthcheck{Form: FormCmd, Program: "curl", ProbeURL: "http://localhost:3000/health", IntervalNs: int64(30 * time.Second)},
		},
		{
			name:      "shell form with image SHELL",
			hc:        `{"Test":["CMD-SHELL","wget -qO- 'http://127.0.0.1:8080/healthz' || exit 1"]}`,
			imgShell:  []string{"/busybox/sh", "-c"},
			want:      Healthcheck{Form: FormShell, Program: "/busybox/sh", ProbeURL: "http://127.0.0.1:8080/healthz"},
			wantShell: "wget -qO- 'http://127.0.0.1:8080/healthz' || exit 1",
		},
		{
			name:      "shell form default shell",
			hc:        `{"Test":["CMD-SHELL","pg_isready"]}`,
			want:      Healthcheck{Form: FormShell, Program: "/bin/sh"},
			wantShell: "pg_isready",
		},
		{
			name: "disabled",
			hc:   `{"Test":["NONE"]}`,
			img:  &container.HealthConfig{Test: []string{"CMD", "curl", "x"}},
			want: Healthcheck{Form: FormNone},
		},
		{
			name: "absent everywhere",
			want: Healthcheck{Form: FormAbsent},
		},
		{
			name: "inherited whole",
			img:  &container.HealthConfig{Test: []string{"CMD", "curl", "-f", "https://localhost/"}, Retries: 3},
			want: Healthcheck{Form: FormCmd, Inherited: true, Program: "curl", ProbeURL: "https://localhost/", Retries: 3},
		},
		{
			name:      "empty Test inherits the test, keeps own interval",
			hc:        `{"Test":[],"Interval":5000000000}`,
			img:       &container.HealthConfig{Test: []string{"CMD-SHELL", "curl localhost"}, Interval: time.Minute, Timeout: time.Second},
			want:      Healthcheck{Form: FormShell, Inherited: true, Program: "/bin/sh", IntervalNs: int64(5 * time.Second), TimeoutNs: int64(time.Second)},
			wantShell: "curl localhost",
		},
		{
			name: "request test wins over image test",
			hc:   `{"Test":["CMD","/nodejs/bin/node","probe.js"]}`,
			img:  &container.HealthConfig{Test: []string{"CMD", "curl"}, Retries: 5},
			want: Healthcheck{Form: FormCmd, Program: "/nodejs/bin/node", Retries: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"Image":"dhi.io/node:25"`
			if tt.hc != "" {
				body += `,"Healthcheck":` + tt.hc
			}
			body += `}`
			img := imagefacts.Named("dhi.io/node:25")
			img.Healthcheck, img.Shell = tt.img, tt.imgShell
			h := build(t, body, img).Container.Healthcheck
			got := Healthcheck{Form: h.Form, Inherited: h.Inherited, Program: h.Program, ProbeURL: h.ProbeURL,
				IntervalNs: h.IntervalNs, TimeoutNs: h.TimeoutNs, Retries: h.Retries}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("healthcheck = %+v\nwant        %+v", got, tt.want)
			}
			if h.ShellCommand != tt.wantShell {
				t.Errorf("shell_command = %q, want %q", h.ShellCommand, tt.wantShell)
			}
		})
	}
}

func TestShellHealthcheckCommands(t *testing.T) {
	d := build(t, `{"Image":"x","Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost:3000/ || exit 1"]}}`, imagefacts.Named("x"))
	if got := d.Container.Healthcheck.Commands; !reflect.DeepEqual(got, []string{"curl"}) {
		t.Errorf("commands = %q, want [curl]", got)
	}
	d = build(t, `{"Image":"x","Healthcheck":{"Test":["CMD","curl","x"]}}`, imagefacts.Named("x"))
	if got := d.Container.Healthcheck.Commands; len(got) != 0 {
		t.Errorf("exec form has commands %q; the program is in program", got)
	}
}

func TestContainerFields(t *testing.T) {
	img := imagefacts.Named("dhi.io/curl:8-debian13-dev")
	img.Entrypoint, img.Cmd = []string{"curl"}, []string{"--help"}
	img.Env = []string{"PATH=/opt/tools/bin:/usr/bin"}
	img.User = "nonroot"
	d := build(t, `{"Image":"dhi.io/curl:8-debian13-dev","Entrypoint":["sleep","infinity"],
		"Labels":{"com.docker.compose.project":"seed","com.docker.compose.service":"app-health"},
		"HostConfig":{"NetworkMode":"container:`+strings.Repeat("a", 64)+`","Memory":33554432,
		"PortBindings":{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}],"3000/tcp":[{"HostIp":"","HostPort":"3000"}]}}}`, img)
	c := d.Container
	if c.Compose == nil || c.Compose.Project != "seed" || c.Compose.Service != "app-health" {
		t.Errorf("compose = %+v", c.Compose)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"sleep", "infinity"}) || len(c.Command) != 0 {
		t.Errorf("an entrypoint in the request drops the image's command: entrypoint %q command %q", c.Entrypoint, c.Command)
	}
	if c.Network.Mode != "container" || len(c.Network.Target) != 64 {
		t.Errorf("network = %+v", c.Network)
	}
	if c.MemoryBytes != 32<<20 || c.User != "nonroot" {
		t.Errorf("memory %d user %q", c.MemoryBytes, c.User)
	}
	if !reflect.DeepEqual(c.Path, []string{"/opt/tools/bin", "/usr/bin"}) {
		t.Errorf("path = %q, want the image's", c.Path)
	}
	want := []Port{{"3000/tcp", "", "3000"}, {"8080/tcp", "127.0.0.1", "8080"}}
	if !reflect.DeepEqual(c.Ports, want) {
		t.Errorf("ports = %+v, want %+v", c.Ports, want)
	}
	if d.Image.Repository != "dhi.io/curl" || d.Image.Tag != "8-debian13-dev" || d.Image.Source != imagefacts.SourceCatalog {
		t.Errorf("image = %+v", d.Image)
	}
	if d.Action != ActionContainerCreate || d.Request.Query["name"][0] != "web" || d.Request.UserAgent == "" {
		t.Errorf("request = %+v action %q", d.Request, d.Action)
	}
}

func TestEntrypointAndPathMerging(t *testing.T) {
	img := imagefacts.Named("app")
	img.Entrypoint, img.Cmd = []string{"/app"}, []string{"--port", "3000"}
	img.Env = []string{"PATH=/image/bin"}
	d := build(t, `{"Image":"app","Env":["PATH=/req/bin:/bin","PATH=/last/bin"]}`, img)
	if !reflect.DeepEqual(d.Container.Entrypoint, []string{"/app"}) || !reflect.DeepEqual(d.Container.Command, []string{"--port", "3000"}) {
		t.Errorf("entrypoint %q command %q, want the image's", d.Container.Entrypoint, d.Container.Command)
	}
	if !reflect.DeepEqual(d.Container.Path, []string{"/last/bin"}) {
		t.Errorf("path = %q, want the request's last PATH", d.Container.Path)
	}
	d = build(t, `{"Image":"app","Cmd":["serve"]}`, img)
	if !reflect.DeepEqual(d.Container.Command, []string{"serve"}) || d.Container.Entrypoint[0] != "/app" {
		t.Errorf("entrypoint %q command %q", d.Container.Entrypoint, d.Container.Command)
	}
	d = build(t, `{"Image":"app"}`, imagefacts.Named("app"))
	if !reflect.DeepEqual(d.Container.Path, strings.Split(DefaultPath, ":")) {
		t.Errorf("path = %q, want the default", d.Container.Path)
	}
}

func TestNetworkModes(t *testing.T) {
	for mode, want := range map[string]Network{
		"":               {Mode: "default"},
		"default":        {Mode: "default"},
		"bridge":         {Mode: "bridge"},
		"host":           {Mode: "host"},
		"none":           {Mode: "none"},
		"container:app1": {Mode: "container", Target: "app1"},
		"seed_default":   {Mode: "network", Target: "seed_default"},
	} {
		if got := networkOf(mode); got != want {
			t.Errorf("networkOf(%q) = %+v, want %+v", mode, got, want)
		}
	}
}

// The document must encode with every list present (never null), so rules
// can iterate without guarding against null.
func TestDocumentEncodesListsAsArrays(t *testing.T) {
	d := build(t, `{"Image":"x"}`, imagefacts.Named("x"))
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"commands":[]`, `"entrypoint":[]`, `"command":[]`, `"test":[]`, `"args":[]`, `"shell":[]`, `"ports":[]`, `"labels":{}`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("encoded document lacks %s: %s", field, raw)
		}
	}
}

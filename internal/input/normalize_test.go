package input

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// Tests dockerd cannot run are form "invalid", with the problem, and
// nothing to run: no program, commands or probe (daemon/health.go:
// getProbe, cmdProbe.run).
func TestInvalidHealthchecks(t *testing.T) {
	tests := []struct {
		test    string
		problem string
	}{
		{`["CMD"]`, ProblemNoProgram},
		{`["CMD",""]`, ProblemEmptyProgram},
		{`["CMD"," ","http://localhost/"]`, ProblemEmptyProgram},
		{`["CMD-SHELL"]`, ProblemNoCommand},
		{`["CMD-SHELL",""]`, ProblemEmptyCommand},
		{`["CMD-SHELL"," \t\n"]`, ProblemEmptyCommand},
		// The shell runs test[1]; later elements are only its $0, $1.
		{`["CMD-SHELL","","curl http://localhost/"]`, ProblemEmptyCommand},
		{`["cmd","curl","-f","http://localhost/"]`, ProblemUnknownType},
		{`["Cmd-Shell","curl http://localhost/"]`, ProblemUnknownType},
		{`["/bin/cat","/tmp/ok"]`, ProblemUnknownType},
		{`[""]`, ProblemUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.test, func(t *testing.T) {
			h := build(t, `{"Image":"x","Healthcheck":{"Test":`+tt.test+`}}`, imagefacts.Named("x")).Container.Healthcheck
			if h.Form != FormInvalid || h.Problem != tt.problem {
				t.Errorf("form %q problem %q, want %q %q", h.Form, h.Problem, FormInvalid, tt.problem)
			}
			if h.Program != "" || h.ProbeURL != "" || h.ShellCommand != "" || len(h.Commands) != 0 || len(h.Args) != 0 || len(h.Shell) != 0 {
				t.Errorf("an invalid test runs nothing, got %+v", h)
			}
			var want []string
			if err := json.Unmarshal([]byte(tt.test), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h.Test, want) {
				t.Errorf("test = %q, want the raw %q", h.Test, want)
			}
		})
	}

	// The image's own HEALTHCHECK can be one too.
	img := imagefacts.Named("x")
	img.Healthcheck = &container.HealthConfig{Test: []string{"CMD"}, Interval: time.Second}
	h := build(t, `{"Image":"x"}`, img).Container.Healthcheck
	if h.Form != FormInvalid || h.Problem != ProblemNoProgram || !h.Inherited {
		t.Errorf("inherited [\"CMD\"]: %+v", h)
	}
	h = build(t, `{"Image":"x","Healthcheck":{"Test":[],"Retries":2}}`, img).Container.Healthcheck
	if h.Form != FormInvalid || !h.Inherited || h.Retries != 2 {
		t.Errorf("empty Test inherits the image's [\"CMD\"]: %+v", h)
	}

	// Every valid form has no problem.
	for _, test := range []string{`["NONE"]`, `["CMD","x"]`, `["CMD-SHELL","x"]`} {
		h := build(t, `{"Image":"x","Healthcheck":{"Test":`+test+`}}`, imagefacts.Named("x")).Container.Healthcheck
		if h.Form == FormInvalid || h.Problem != "" {
			t.Errorf("%s: form %q problem %q", test, h.Form, h.Problem)
		}
	}
}

// shellBody is a create body whose healthcheck is ["CMD-SHELL", cmd].
func shellBody(t testing.TB, cmd string) string {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"Image": "dhi.io/node:25-dev", "Healthcheck": map[string]any{"Test": []string{"CMD-SHELL", cmd}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// manyCommands is a command of about n bytes running p0, p1, p2, … in turn.
func manyCommands(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "p%d; ", i)
	}
	return b.String()[:n]
}

// A long test costs the plugin a bounded amount of work: the first
// MaxParsedBytes are read, at most MaxCommands programs listed, and
// probe_url is at most MaxProbeURLBytes.
func TestHealthcheckParsingIsBounded(t *testing.T) {
	img := imagefacts.Named("dhi.io/node:25-dev")

	// 1 MiB of distinct commands, after a curl probe.
	cmd := "curl -f http://localhost:3000/health; " + manyCommands(1<<20)
	h := build(t, shellBody(t, cmd), img).Container.Healthcheck
	if !h.Truncated || h.Form != FormShell || h.Program != "/bin/sh" {
		t.Errorf("form %q program %q truncated %v, want a truncated shell test", h.Form, h.Program, h.Truncated)
	}
	if len(h.ShellCommand) != MaxParsedBytes || !strings.HasPrefix(cmd, h.ShellCommand) {
		t.Errorf("shell_command has %d bytes, want the first %d", len(h.ShellCommand), MaxParsedBytes)
	}
	if len(h.Commands) != MaxCommands || h.Commands[0] != "curl" || h.Commands[1] != "p0" {
		t.Errorf("commands = %d %q…, want %d starting with curl, p0", len(h.Commands), h.Commands[:min(3, len(h.Commands))], MaxCommands)
	}
	if h.ProbeURL != "http://localhost:3000/health" {
		t.Errorf("probe_url = %q", h.ProbeURL)
	}
	if len(h.Test[1]) != len(cmd) {
		t.Errorf("test carries %d bytes, want the raw %d", len(h.Test[1]), len(cmd))
	}

	// A short command with many programs: all parsed, MaxCommands kept.
	h = build(t, shellBody(t, manyCommands(2000)), img).Container.Healthcheck
	if h.Truncated || len(h.Commands) != MaxCommands {
		t.Errorf("truncated %v, %d commands; want false, %d", h.Truncated, len(h.Commands), MaxCommands)
	}

	// Exactly MaxParsedBytes is read whole.
	exact := "pg_isready " + strings.Repeat("x", MaxParsedBytes-len("pg_isready "))
	h = build(t, shellBody(t, exact), img).Container.Healthcheck
	if h.Truncated || h.ShellCommand != exact || !reflect.DeepEqual(h.Commands, []string{"pg_isready"}) {
		t.Errorf("a command of exactly %d bytes: truncated %v, commands %q", MaxParsedBytes, h.Truncated, h.Commands)
	}

	// A command cut by the limit is not a command: /usr/bin/curl cut to
	// /usr/bin/cu would be missing from every image. Only commands that
	// end before the cut count.
	pad := strings.Repeat(" ", MaxParsedBytes-len("true; sleep 1; /usr/bin/cu"))
	h = build(t, shellBody(t, "true; sleep 1;"+pad+" /usr/bin/curl -f http://localhost/"), img).Container.Healthcheck
	if !h.Truncated || !reflect.DeepEqual(h.Commands, []string{"sleep"}) {
		t.Errorf("truncated %v commands %q, want [sleep]", h.Truncated, h.Commands)
	}
	// An unbalanced quote after the cut does not hide what came before.
	h = build(t, shellBody(t, "wget -q http://localhost/; echo '"+strings.Repeat("z", 1<<20)), img).Container.Healthcheck
	if !reflect.DeepEqual(h.Commands, []string{"wget"}) {
		t.Errorf("commands %q, want [wget]", h.Commands)
	}

	// The cut never splits a UTF-8 character.
	h = build(t, shellBody(t, "x"+strings.Repeat("é", MaxParsedBytes)), img).Container.Healthcheck
	if !utf8.ValidString(h.ShellCommand) || len(h.ShellCommand) > MaxParsedBytes {
		t.Errorf("shell_command of %d bytes, valid UTF-8 %v", len(h.ShellCommand), utf8.ValidString(h.ShellCommand))
	}
}

func TestProbeURLIsBounded(t *testing.T) {
	long := "http://localhost:3000/" + strings.Repeat("a", 1<<20)
	h := build(t, shellBody(t, "wget -qO- "+long), imagefacts.Named("x")).Container.Healthcheck
	if len(h.ProbeURL) != MaxProbeURLBytes || !strings.HasPrefix(long, h.ProbeURL) || !h.Truncated {
		t.Errorf("probe_url of %d bytes (truncated %v), want the first %d", len(h.ProbeURL), h.Truncated, MaxProbeURLBytes)
	}

	// An exec test the plugin did not read whole has no probe_url: a curl
	// probe's fix would copy its arguments, read or not.
	h = build(t, `{"Image":"x","Healthcheck":{"Test":["CMD","curl","-f","`+long+`"]}}`, imagefacts.Named("x")).Container.Healthcheck
	if h.ProbeURL != "" || !h.Truncated {
		t.Errorf("probe_url of %d bytes (truncated %v), want none", len(h.ProbeURL), h.Truncated)
	}
	if h.Form != FormCmd || h.Program != "curl" || len(h.Args[1]) != len(long) {
		t.Errorf("the exec test itself is kept: %q %d", h.Program, len(h.Args[1]))
	}

	// A URL past the first MaxParsedBytes of the arguments is not looked for.
	raw, _ := json.Marshal(map[string]any{"Image": "x", "Healthcheck": map[string]any{"Test": []string{"CMD-SHELL", "probe " + strings.Repeat("-flag=1 ", MaxParsedBytes/8) + "http://localhost:3000/"}}})
	h = build(t, string(raw), imagefacts.Named("x")).Container.Healthcheck
	if h.ProbeURL != "" || !h.Truncated {
		t.Errorf("probe_url %q truncated %v, want none found, truncated", h.ProbeURL, h.Truncated)
	}

	// Short tests are not truncated.
	h = build(t, `{"Image":"x","Healthcheck":{"Test":["CMD","curl","-f","http://localhost:3000/"]}}`, imagefacts.Named("x")).Container.Healthcheck
	if h.Truncated || h.ProbeURL != "http://localhost:3000/" {
		t.Errorf("probe_url %q truncated %v", h.ProbeURL, h.Truncated)
	}
}

// The document carries at most MaxTestElements elements of a test.
func TestTestElementsAreBounded(t *testing.T) {
	test := []string{"CMD", "curl", "-f", "http://localhost:3000/"}
	for len(test) < 100_000 {
		test = append(test, "-v")
	}
	raw, _ := json.Marshal(map[string]any{"Image": "x", "Healthcheck": map[string]any{"Test": test}})
	h := build(t, string(raw), imagefacts.Named("x")).Container.Healthcheck
	if len(h.Test) != MaxTestElements || len(h.Args) != MaxTestElements-2 || !h.Truncated || h.Program != "curl" || h.ProbeURL != "" {
		t.Errorf("test %d args %d truncated %v program %q probe_url %q", len(h.Test), len(h.Args), h.Truncated, h.Program, h.ProbeURL)
	}
	test[0] = "cmd"
	raw, _ = json.Marshal(map[string]any{"Image": "x", "Healthcheck": map[string]any{"Test": test}})
	h = build(t, string(raw), imagefacts.Named("x")).Container.Healthcheck
	if len(h.Test) != MaxTestElements || h.Form != FormInvalid || h.Problem != ProblemUnknownType {
		t.Errorf("an invalid test of %d elements: %d kept, form %q %q", len(test), len(h.Test), h.Form, h.Problem)
	}
	// Exactly MaxTestElements is whole.
	raw, _ = json.Marshal(map[string]any{"Image": "x", "Healthcheck": map[string]any{"Test": test[:MaxTestElements]}})
	if h := build(t, string(raw), imagefacts.Named("x")).Container.Healthcheck; h.Truncated {
		t.Errorf("a test of exactly %d elements is truncated", MaxTestElements)
	}
}

// BenchmarkLongHealthcheck is the Go side of a create whose healthcheck
// test is 1 MiB (dockerd 20.10 forwards bodies up to 1 MiB): normalizing
// it and building the Rego value, the body already decoded. Before the
// parsing limits, the 100,000 commands of distinct-commands went into the
// document (and every one of them through Rego), as did the 200,000
// elements of exec-many-args, twice (test and args).
func BenchmarkLongHealthcheck(b *testing.B) {
	rt := route.Parse("POST", "/v1.41/containers/create?name=web")
	img := imagefacts.Named("dhi.io/node:25-dev")
	manyArgs := []string{"CMD", "curl", "-f", "http://localhost:3000/"}
	for len(manyArgs) < 200_000 {
		manyArgs = append(manyArgs, "-v")
	}
	for _, bc := range []struct {
		name string
		test []string
	}{
		{"shell-distinct-commands", []string{"CMD-SHELL", manyCommands(1 << 20)}},
		{"shell-one-word", []string{"CMD-SHELL", strings.Repeat("x", 1<<20)}},
		{"exec-many-args", manyArgs},
	} {
		raw, err := json.Marshal(map[string]any{"Image": "dhi.io/node:25-dev", "Healthcheck": map[string]any{"Test": bc.test}})
		if err != nil {
			b.Fatal(err)
		}
		req, err := createreq.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := ForRequest(rt, Caller{}, "hardened-authz").WithCreate("web", req, img)
				_ = d.Value()
			}
		})
	}
}

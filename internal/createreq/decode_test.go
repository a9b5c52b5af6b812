package createreq

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func TestDecodeCaseInsensitiveAndLastDuplicateWins(t *testing.T) {
	body := `{"image":"first","Image":"dhi.io/node:25",
		"healthcheck":{"test":["CMD","curl","-f","http://localhost:3000/"]},
		"Healthcheck":{"Test":["CMD-SHELL","wget -q localhost"],"Interval":2000000000}}`
	req, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if req.Image != "dhi.io/node:25" {
		t.Errorf("Image = %q, want the last duplicate", req.Image)
	}
	if got := req.Healthcheck.Test; len(got) != 2 || got[0] != "CMD-SHELL" {
		t.Errorf("Healthcheck.Test = %q, want the last duplicate", got)
	}
	if req.Healthcheck.Interval != 2*time.Second {
		t.Errorf("Interval = %v", req.Healthcheck.Interval)
	}
}

func TestDecodeComposeNulls(t *testing.T) {
	// docker-compose 1.29 sends nulls for unset healthcheck fields.
	body := `{"Image":"a","Healthcheck":{"Test":["CMD","curl"],"Interval":2000000000,"Timeout":null,"Retries":null,"StartPeriod":null},
		"HostConfig":{"NetworkMode":"container:0123","Memory":33554432,"PortBindings":{"3000/tcp":[{"HostIp":"","HostPort":"3000"}]}}}`
	req, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if req.Healthcheck.Timeout != 0 || req.Healthcheck.Retries != 0 {
		t.Errorf("nulls did not decode as unset: %+v", req.Healthcheck)
	}
	if req.HostConfig.NetworkMode != "container:0123" || req.HostConfig.Memory != 32<<20 {
		t.Errorf("HostConfig = %+v", req.HostConfig)
	}
}

func TestDecodeDefaultsNestedConfigs(t *testing.T) {
	req, err := Decode([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.Config == nil || req.HostConfig == nil {
		t.Fatal("Config and HostConfig must never be nil after a successful decode")
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", "no body"},
		{"whitespace", " \n\t", "no body"},
		{"null", "null", "not a JSON object"},
		{"array", `[{"Image":"a"}]`, "not a JSON object"},
		{"string", `"Image"`, "not a JSON object"},
		{"truncated", `{"Image":"a"`, "does not decode"},
		{"wrong type", `{"Image":5}`, "does not decode"},
		{"wrong nested type", `{"Image":"a","Healthcheck":{"Test":"CMD curl"}}`, "does not decode"},
		{"wrong interval type", `{"Image":"a","Healthcheck":{"Interval":"30s"}}`, "does not decode"},
		{"bad port", `{"Image":"a","ExposedPorts":{"notaport":{}}}`, "does not decode"},
		{"trailing object", `{"Image":"a"}{"Image":"b"}`, "data after"},
		{"trailing garbage", `{"Image":"a"} x`, "data after"},
		{"invalid utf8 key", "{\"Image\xff\":\"a\"}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body))
			if tt.want == "" {
				return // must only not panic
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode(%q) error = %v, want one containing %q", tt.body, err, tt.want)
			}
		})
	}
	if _, err := Decode(nil); !errors.Is(err, ErrNoBody) {
		t.Errorf("Decode(nil) = %v, want ErrNoBody", err)
	}
}

func TestDecodeHugeBody(t *testing.T) {
	body := `{"Image":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
	if _, err := Decode([]byte(body)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("error = %v, want the size limit", err)
	}
	// Just under the limit still decodes: size alone is not a reason to deny.
	body = `{"Image":"` + strings.Repeat("a", MaxBodyBytes-20) + `"}`
	if req, err := Decode([]byte(body)); err != nil || len(req.Image) != MaxBodyBytes-20 {
		t.Fatalf("large body: %v", err)
	}
}

// dockerd before 29 decodes Cmd, Entrypoint, Shell, CapAdd and CapDrop with
// strslice.StrSlice: a JSON string is a one-element list, never split into
// words. The policies must see the same list, or a string would hide the
// program from them.
func TestDecodeStringForms(t *testing.T) {
	tests := []struct {
		name, body                     string
		cmd, entrypoint, shell         []string
		capAdd, capDrop                []string
		nilCmd, nilEntrypoint, nilCaps bool
	}{
		{name: "cmd string is one argv element", body: `{"Image":"a","Cmd":"/bin/sleep 5"}`,
			cmd: []string{"/bin/sleep 5"}, nilEntrypoint: true, nilCaps: true},
		{name: "entrypoint string names the program", body: `{"Image":"a","Entrypoint":"curl","Cmd":["-f","http://x/"]}`,
			entrypoint: []string{"curl"}, cmd: []string{"-f", "http://x/"}, nilCaps: true},
		{name: "empty entrypoint string resets it", body: `{"Image":"a","Entrypoint":""}`,
			entrypoint: []string{""}, nilCmd: true, nilCaps: true},
		{name: "shell string", body: `{"Image":"a","Shell":"/bin/ash -c"}`,
			shell: []string{"/bin/ash -c"}, nilCmd: true, nilEntrypoint: true, nilCaps: true},
		{name: "arrays as before", body: `{"Image":"a","Entrypoint":["sleep"],"Cmd":["infinity"],"Shell":["/bin/bash","-c"]}`,
			entrypoint: []string{"sleep"}, cmd: []string{"infinity"}, shell: []string{"/bin/bash", "-c"}, nilCaps: true},
		{name: "empty array is not null", body: `{"Image":"a","Cmd":[],"Entrypoint":null}`,
			cmd: []string{}, nilEntrypoint: true, nilCaps: true},
		{name: "case-insensitive keys", body: `{"image":"a","cmd":"x","ENTRYPOINT":"y"}`,
			cmd: []string{"x"}, entrypoint: []string{"y"}, nilCaps: true},
		{name: "last duplicate wins, string after array", body: `{"Image":"a","Cmd":["a","b"],"cmd":"c"}`,
			cmd: []string{"c"}, nilEntrypoint: true, nilCaps: true},
		{name: "last duplicate wins, array after string", body: `{"Image":"a","Entrypoint":"curl","entrypoint":["wget","-q"]}`,
			entrypoint: []string{"wget", "-q"}, nilCmd: true, nilCaps: true},
		{name: "capabilities as strings", body: `{"Image":"a","HostConfig":{"CapAdd":"NET_ADMIN","CapDrop":["ALL"]}}`,
			capAdd: []string{"NET_ADMIN"}, capDrop: []string{"ALL"}, nilCmd: true, nilEntrypoint: true},
		{name: "unicode and escapes survive", body: `{"Image":"a","Cmd":"echo \"\u00e9\" \\n"}`,
			cmd: []string{`echo "é" \n`}, nilEntrypoint: true, nilCaps: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			check := func(field string, got, want []string, wantNil bool) {
				t.Helper()
				if wantNil {
					if got != nil {
						t.Errorf("%s = %q, want nil (unset: the image's applies)", field, got)
					}
					return
				}
				if got == nil || !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", field, got, want)
				}
			}
			check("Cmd", req.Cmd, tt.cmd, tt.nilCmd)
			check("Entrypoint", req.Entrypoint, tt.entrypoint, tt.nilEntrypoint)
			check("Shell", req.Shell, tt.shell, tt.shell == nil)
			check("CapAdd", req.HostConfig.CapAdd, tt.capAdd, tt.nilCaps)
			check("CapDrop", req.HostConfig.CapDrop, tt.capDrop, tt.nilCaps)
		})
	}
}

func TestDecodeStringFormsRejects(t *testing.T) {
	for _, body := range []string{
		`{"Cmd":5}`,
		`{"Entrypoint":{"a":"b"}}`,
		`{"Shell":true}`,
		`{"Cmd":["a",1]}`,
		`{"HostConfig":{"CapAdd":[null, 2]}}`,
		// Healthcheck.Test was a plain []string in every dockerd.
		`{"Healthcheck":{"Test":"CMD-SHELL curl"}}`,
	} {
		if _, err := Decode([]byte(body)); err == nil || !strings.Contains(err.Error(), "does not decode") {
			t.Errorf("Decode(%s) error = %v, want a decode error", body, err)
		}
	}
}

// HostConfig fields at the top level of the body (the API < 1.18 layout):
// dockerd 20.10 to 26.x applies them (runconfig.ContainerConfigWrapper),
// 27 and later ignore them. A body on which the two differ is refused; one
// on which they agree decodes.
func TestDecodeTopLevelHostConfig(t *testing.T) {
	tests := []struct {
		name, body string
		// ambiguous names the fields the error must list; empty when the
		// body decodes.
		ambiguous []string
		// legacy is what dockerd 20.10 sees, checked on the wrapper.
		legacy func(*container.HostConfig) bool
		// decoded checks the accepted request's HostConfig.
		decoded func(*container.HostConfig) bool
	}{
		{name: "network mode without HostConfig", body: `{"Image":"a","NetworkMode":"host"}`,
			ambiguous: []string{"NetworkMode"},
			legacy:    func(h *container.HostConfig) bool { return h.NetworkMode == "host" }},
		{name: "keys are case-insensitive there too", body: `{"Image":"a","networkmode":"container:app"}`,
			ambiguous: []string{"NetworkMode"},
			legacy:    func(h *container.HostConfig) bool { return h.NetworkMode == "container:app" }},
		{name: "memory and ports without HostConfig", body: `{"Image":"a","Memory":33554432,"PortBindings":{"3000/tcp":[{"HostPort":"3000"}]}}`,
			ambiguous: []string{"PortBindings", "Memory"},
			legacy:    func(h *container.HostConfig) bool { return h.Memory == 32<<20 && len(h.PortBindings) == 1 }},
		{name: "capability string without HostConfig", body: `{"Image":"a","CapAdd":"SYS_ADMIN"}`,
			ambiguous: []string{"CapAdd"},
			legacy:    func(h *container.HostConfig) bool { return reflect.DeepEqual(h.CapAdd, []string{"SYS_ADMIN"}) }},
		{name: "null HostConfig is no HostConfig", body: `{"Image":"a","HostConfig":null,"Privileged":true}`,
			ambiguous: []string{"Privileged"},
			legacy:    func(h *container.HostConfig) bool { return h.Privileged }},
		{name: "HostConfig wins over the top level", body: `{"Image":"a","NetworkMode":"host","Privileged":true,"HostConfig":{"NetworkMode":"bridge"}}`,
			legacy:  func(h *container.HostConfig) bool { return h.NetworkMode == "bridge" && !h.Privileged },
			decoded: func(h *container.HostConfig) bool { return h.NetworkMode == "bridge" && !h.Privileged }},
		{name: "HostConfig wins even when empty", body: `{"Image":"a","NetworkMode":"host","HostConfig":{}}`,
			legacy:  func(h *container.HostConfig) bool { return h.NetworkMode == "" },
			decoded: func(h *container.HostConfig) bool { return h.NetworkMode == "" }},
		{name: "top-level memory fills a zero HostConfig.Memory", body: `{"Image":"a","Memory":1048576,"HostConfig":{"NetworkMode":"bridge"}}`,
			ambiguous: []string{"Memory"},
			legacy:    func(h *container.HostConfig) bool { return h.Memory == 1<<20 && h.NetworkMode == "bridge" }},
		{name: "top-level memory loses to a set HostConfig.Memory", body: `{"Image":"a","Memory":1,"HostConfig":{"Memory":2}}`,
			legacy:  func(h *container.HostConfig) bool { return h.Memory == 2 },
			decoded: func(h *container.HostConfig) bool { return h.Memory == 2 }},
		{name: "swap, shares, cpuset and volume driver fill in too", body: `{"Image":"a","MemorySwap":5,"CpuShares":7,"CpusetCpus":"1","VolumeDriver":"v","HostConfig":{}}`,
			ambiguous: []string{"VolumeDriver", "CpuShares", "CpusetCpus", "MemorySwap"},
			legacy: func(h *container.HostConfig) bool {
				return h.MemorySwap == 5 && h.CPUShares == 7 && h.CpusetCpus == "1" && h.VolumeDriver == "v"
			}},
		{name: "Cpuset needs a HostConfig", body: `{"Image":"a","Cpuset":"0-1"}`,
			legacy:  func(h *container.HostConfig) bool { return h == nil },
			decoded: func(h *container.HostConfig) bool { return h.CpusetCpus == "" }},
		{name: "Cpuset fills HostConfig.CpusetCpus", body: `{"Image":"a","Cpuset":"0-1","HostConfig":{}}`,
			ambiguous: []string{"CpusetCpus"},
			legacy:    func(h *container.HostConfig) bool { return h.CpusetCpus == "0-1" }},
		{name: "zero values change nothing", body: `{"Image":"a","NetworkMode":"","Memory":0,"CapAdd":null,"HostConfig":{"NetworkMode":"host"}}`,
			legacy:  func(h *container.HostConfig) bool { return h.NetworkMode == "host" },
			decoded: func(h *container.HostConfig) bool { return h.NetworkMode == "host" }},
		{name: "null top-level fields alone", body: `{"Image":"a","NetworkMode":null,"Memory":null}`,
			legacy:  func(h *container.HostConfig) bool { return h != nil && h.NetworkMode == "" },
			decoded: func(h *container.HostConfig) bool { return h.NetworkMode == "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w containerConfigWrapper
			if err := json.Unmarshal([]byte(tt.body), &w); err != nil {
				t.Fatal(err)
			}
			if legacy := w.legacyHostConfig(); !tt.legacy(legacy) {
				t.Errorf("dockerd 20.10's HostConfig = %+v, not what it is", legacy)
			}
			req, err := Decode([]byte(tt.body))
			if len(tt.ambiguous) > 0 {
				if !errors.Is(err, ErrAmbiguous) {
					t.Fatalf("Decode error = %v, want ErrAmbiguous", err)
				}
				for _, f := range tt.ambiguous {
					if !strings.Contains(err.Error(), f) {
						t.Errorf("error %q does not name %s", err, f)
					}
				}
				if req != nil {
					t.Error("a refused body returned a request")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.decoded(req.HostConfig) {
				t.Errorf("HostConfig = %+v", req.HostConfig)
			}
		})
	}
}

// The wrapper must route every key of Config and HostConfig where
// container.CreateRequest does: a body any current client sends decodes
// to the same request.
func TestDecodeMatchesCreateRequest(t *testing.T) {
	body := `{"Hostname":"h","Domainname":"d","User":"1000:1000","AttachStdout":true,"Tty":true,
		"Env":["PATH=/bin","A=b"],"Cmd":["sleep","5"],"Entrypoint":["/bin/sh","-c"],"Shell":["/bin/ash","-c"],
		"Image":"dhi.io/node:25","Volumes":{"/data":{}},"WorkingDir":"/app","Labels":{"com.docker.compose.service":"app"},
		"StopSignal":"SIGTERM","StopTimeout":5,"ExposedPorts":{"3000/tcp":{}},
		"Healthcheck":{"Test":["CMD","curl","-f","http://localhost:3000/"],"Interval":1000000000,"Retries":3},
		"HostConfig":{"NetworkMode":"container:0123","Memory":33554432,"CapAdd":["NET_ADMIN"],"CapDrop":["ALL"],
			"PortBindings":{"3000/tcp":[{"HostIp":"127.0.0.1","HostPort":"3000"}]},"Binds":["/a:/b"],"Privileged":false,
			"RestartPolicy":{"Name":"always"},"Init":true},
		"NetworkingConfig":{"EndpointsConfig":{"net":{"Aliases":["app"]}}}}`
	var want container.CreateRequest
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	got, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Config, want.Config) {
		t.Errorf("Config\n got %+v\nwant %+v", got.Config, want.Config)
	}
	if !reflect.DeepEqual(got.HostConfig, want.HostConfig) {
		t.Errorf("HostConfig\n got %+v\nwant %+v", got.HostConfig, want.HostConfig)
	}
	if !reflect.DeepEqual(got.NetworkingConfig, want.NetworkingConfig) {
		t.Errorf("NetworkingConfig\n got %+v\nwant %+v", got.NetworkingConfig, want.NetworkingConfig)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"Image":"dhi.io/node:25","Healthcheck":{"Test":["CMD","curl"]}}`,
		`{"image":"a","HostConfig":{"NetworkMode":"container:x","PortBindings":{"80/tcp":[{"HostPort":"8080"}]}}}`,
		`{"Cmd":null,"Entrypoint":[""],"Env":["PATH=/x"]}`,
		`{"Cmd":"/bin/sleep 5","Entrypoint":"curl","Shell":"sh","HostConfig":{"CapAdd":"ALL"}}`,
		`{"NetworkMode":"host","Memory":1,"HostConfig":{"NetworkMode":"bridge"}}`,
		`{"Cpuset":"0","CapDrop":null,"HostConfig":{}}`,
		``, `null`, `{}`, `{"Image":"a"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Decode(body)
		if err != nil {
			if req != nil {
				t.Fatal("a failed decode returned a request")
			}
			return
		}
		if req.Config == nil || req.HostConfig == nil {
			t.Fatal("successful decode with nil Config or HostConfig")
		}
		// Whatever a current daemon's types decode must decode the same
		// here: the string forms and the top-level fields only add to them.
		var plain container.CreateRequest
		if json.Unmarshal(body, &plain) != nil || plain.Config == nil {
			return
		}
		if plain.HostConfig == nil {
			plain.HostConfig = &container.HostConfig{}
		}
		if !reflect.DeepEqual(req.Config, plain.Config) || !reflect.DeepEqual(req.HostConfig, plain.HostConfig) {
			t.Fatalf("Decode differs from container.CreateRequest on %q:\n%+v\n%+v", body, req, plain)
		}
	})
}

func TestDialectOf(t *testing.T) {
	for v, want := range map[string]Dialect{
		"1.41": LegacyDaemon, "1.45": LegacyDaemon, "1.24": LegacyDaemon,
		"1.46": CurrentDaemon, "1.52": CurrentDaemon,
		"": EitherDaemon, "2.0": EitherDaemon, "1.": EitherDaemon, "1.4x": EitherDaemon, "x": EitherDaemon,
	} {
		if got := DialectOf(v); got != want {
			t.Errorf("DialectOf(%q) = %v, want %v", v, got, want)
		}
	}
}

// A daemon of known version reads top-level HostConfig fields its way:
// dockerd 20.10 applies a top-level NetworkMode, 27+ ignores it; only a
// daemon of unknown version makes the body ambiguous.
func TestDecodeForTheDaemonsDialect(t *testing.T) {
	body := []byte(`{"Image":"a","NetworkMode":"host","Memory":1048576}`)
	legacy, err := DecodeFor(body, LegacyDaemon)
	if err != nil || legacy.HostConfig.NetworkMode != "host" || legacy.HostConfig.Memory != 1<<20 {
		t.Fatalf("dockerd 20.10 reading: %+v, %v", legacy, err)
	}
	current, err := DecodeFor(body, CurrentDaemon)
	if err != nil || current.HostConfig.NetworkMode != "" || current.HostConfig.Memory != 0 {
		t.Fatalf("dockerd 27+ reading: %+v, %v", current, err)
	}
	if _, err := DecodeFor(body, EitherDaemon); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("unknown daemon: %v, want ErrAmbiguous", err)
	}
	// With a HostConfig key, 20.10 takes it and fills only zero resources.
	both, err := DecodeFor([]byte(`{"Image":"a","NetworkMode":"host","Memory":5,"HostConfig":{"NetworkMode":"none"}}`), LegacyDaemon)
	if err != nil || both.HostConfig.NetworkMode != "none" || both.HostConfig.Memory != 5 {
		t.Fatalf("both: %+v, %v", both.HostConfig, err)
	}
}

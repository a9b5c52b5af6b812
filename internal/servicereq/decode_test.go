package servicereq

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
)

// What `docker service create --health-cmd 'curl -f http://localhost:8080/'
// dhi.io/node:25` sends (docker CLI 28, the image pinned by digest).
const cliCreate = `{"Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"dhi.io/node:25@sha256:5b0c2f5e4f0c8a7d2b1e3f4a5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d","Init":false,"Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost:8080/"]},"DNSConfig":{},"Isolation":"default"},"Resources":{"Limits":{},"Reservations":{}},"RestartPolicy":{"Condition":"any","MaxAttempts":0},"Placement":{},"ForceUpdate":0,"Runtime":"container"},"Mode":{"Replicated":{"Replicas":1}},"UpdateConfig":{"Parallelism":1,"FailureAction":"pause","Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"},"RollbackConfig":{"Parallelism":1,"FailureAction":"pause","Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"},"EndpointSpec":{"Mode":"vip"}}`

// What `docker stack deploy -c compose.yaml shop` sends for a service
// "app": the stack label on the service and on its container.
const stackCreate = `{
	"Name": "shop_app",
	"Labels": {"com.docker.stack.image": "dhi.io/node:25", "com.docker.stack.namespace": "shop"},
	"TaskTemplate": {
		"ContainerSpec": {
			"Image": "dhi.io/node:25",
			"Labels": {"com.docker.stack.namespace": "shop", "tier": "web"},
			"Command": ["node"], "Args": ["server.js"],
			"Env": ["PORT=3000"], "Dir": "/app", "User": "65532", "Groups": ["100"],
			"Init": true,
			"Healthcheck": {"Test": ["CMD", "node", "check.js"], "Interval": 30000000000},
			"Mounts": [
				{"Type": "volume", "Source": "shop_data", "Target": "/data"},
				{"Type": "bind", "Source": "/srv/tools", "Target": "/opt/tools", "ReadOnly": true},
				{"Type": "tmpfs", "Target": "/tmp"}
			],
			"Isolation": "default"
		},
		"Resources": {"Limits": {"MemoryBytes": 33554432}},
		"Networks": [{"Target": "shop_default", "Aliases": ["app"]}],
		"Runtime": "container"
	},
	"Mode": {"Replicated": {"Replicas": 2}},
	"EndpointSpec": {"Mode": "vip", "Ports": [{"Protocol": "tcp", "TargetPort": 3000, "PublishedPort": 3000}]}
}`

func TestDecodeCLICreate(t *testing.T) {
	s, err := Decode([]byte(cliCreate))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "" || s.Stack != "" {
		t.Errorf("name %q stack %q", s.Name, s.Stack)
	}
	cfg, host := s.Create.Config, s.Create.HostConfig
	if !strings.HasPrefix(cfg.Image, "dhi.io/node:25@sha256:") {
		t.Errorf("image %q", cfg.Image)
	}
	if want := []string{"CMD-SHELL", "curl -f http://localhost:8080/"}; cfg.Healthcheck == nil || !reflect.DeepEqual(cfg.Healthcheck.Test, want) {
		t.Errorf("healthcheck %+v", cfg.Healthcheck)
	}
	if cfg.Entrypoint != nil || cfg.Cmd != nil {
		t.Errorf("entrypoint %q cmd %q: the image's apply", cfg.Entrypoint, cfg.Cmd)
	}
	if host.NetworkMode != "" || host.Init == nil || *host.Init || host.Memory != 0 || len(host.Mounts) != 0 {
		t.Errorf("host config %+v", host)
	}
	if len(cfg.Labels) != 0 {
		t.Errorf("labels %v", cfg.Labels)
	}
}

func TestDecodeStack(t *testing.T) {
	s, err := Decode([]byte(stackCreate))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "shop_app" || s.Stack != "shop" {
		t.Errorf("name %q stack %q", s.Name, s.Stack)
	}
	cfg, host := s.Create.Config, s.Create.HostConfig
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"image", cfg.Image, "dhi.io/node:25"},
		{"entrypoint", []string(cfg.Entrypoint), []string{"node"}},
		{"cmd", []string(cfg.Cmd), []string{"server.js"}},
		{"env", cfg.Env, []string{"PORT=3000"}},
		{"dir", cfg.WorkingDir, "/app"},
		{"user", cfg.User, "65532"},
		{"groups", host.GroupAdd, []string{"100"}},
		{"init", *host.Init, true},
		{"healthcheck", cfg.Healthcheck.Test, []string{"CMD", "node", "check.js"}},
		{"labels", cfg.Labels, map[string]string{"com.docker.stack.namespace": "shop", "tier": "web"}},
		{"memory", host.Memory, int64(33554432)},
		{"network mode", string(host.NetworkMode), ""},
		{"mounts", len(host.Mounts), 3},
		{"mount type", host.Mounts[1].Type, mount.TypeBind},
		{"mount target", host.Mounts[2].Target, "/tmp"},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// The service's stack label reaches the container labels when its own
// labels lack it; a container label of its own is kept.
func TestStackLabel(t *testing.T) {
	s, err := Decode([]byte(`{"Name":"shop_web","Labels":{"com.docker.stack.namespace":"shop"},"TaskTemplate":{"ContainerSpec":{"Image":"nginx","Labels":{"a":"b"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "b", LabelStackNamespace: "shop"}; !reflect.DeepEqual(s.Create.Config.Labels, want) {
		t.Errorf("labels %v", s.Create.Config.Labels)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		is         error
		msg        string
	}{
		{"missing", "", ErrNoBody, ""},
		{"blank", " \n\t", ErrNoBody, ""},
		{"not an object", `["x"]`, nil, "not a JSON object"},
		{"null", `null`, nil, "not a JSON object"},
		{"trailing", `{"TaskTemplate":{"ContainerSpec":{"Image":"a"}}} {"TaskTemplate":{}}`, nil, "data after"},
		{"bad type", `{"TaskTemplate":{"ContainerSpec":{"Image":1}}}`, nil, "does not decode"},
		{"truncated", `{"TaskTemplate":{"ContainerSpec":`, nil, "does not decode"},
		{"no container", `{"Name":"x","TaskTemplate":{"PluginSpec":{"Name":"acme/p"},"Runtime":"plugin"}}`, ErrNoContainer, ""},
		{"empty object", `{}`, ErrNoContainer, ""},
		{"too large", `{"Name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, nil, "over the"},
	} {
		_, err := Decode([]byte(tt.body))
		switch {
		case err == nil:
			t.Errorf("%s: decoded", tt.name)
		case tt.is != nil && !errors.Is(err, tt.is):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.is)
		case tt.msg != "" && !strings.Contains(err.Error(), tt.msg):
			t.Errorf("%s: %v, want %q", tt.name, err, tt.msg)
		}
	}
}

// Keys match case-insensitively, as in the daemon.
func TestDecodeCaseInsensitive(t *testing.T) {
	s, err := Decode([]byte(`{"name":"x","tasktemplate":{"containerspec":{"image":"nginx","command":["sleep"],"args":["infinity"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "x" || s.Create.Config.Image != "nginx" || s.Create.Config.Entrypoint[0] != "sleep" || s.Create.Config.Cmd[0] != "infinity" {
		t.Errorf("%+v %+v", s, s.Create.Config)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{cliCreate, stackCreate, `{}`, ``, `{"TaskTemplate":{"ContainerSpec":{}}}`, `{"TaskTemplate":{"ContainerSpec":null}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := Decode(body)
		if err != nil {
			if s != nil {
				t.Fatal("a service with an error")
			}
			return
		}
		if s.Spec == nil || s.Create == nil || s.Create.Config == nil || s.Create.HostConfig == nil {
			t.Fatalf("incomplete service: %+v", s)
		}
		if s.Name != s.Spec.Name || s.Stack != s.Spec.Labels[LabelStackNamespace] {
			t.Fatalf("name %q stack %q for spec %+v", s.Name, s.Stack, s.Spec.Annotations)
		}
		if s.Create.HostConfig.NetworkMode != "" {
			t.Fatalf("network mode %q", s.Create.HostConfig.NetworkMode)
		}
		if s.Create.Config.Image != s.Spec.TaskTemplate.ContainerSpec.Image {
			t.Fatalf("image %q", s.Create.Config.Image)
		}
	})
}

package createreq

import (
	"errors"
	"strings"
	"testing"
	"time"
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

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"Image":"dhi.io/node:25","Healthcheck":{"Test":["CMD","curl"]}}`,
		`{"image":"a","HostConfig":{"NetworkMode":"container:x","PortBindings":{"80/tcp":[{"HostPort":"8080"}]}}}`,
		`{"Cmd":null,"Entrypoint":[""],"Env":["PATH=/x"]}`,
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
	})
}

package opadockerauthz

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/open-policy-agent/opa/v1/ast"
)

// inputJSON builds the input of req and renders it canonically.
func inputJSON(t *testing.T, req authorization.Request) string {
	t.Helper()
	v, err := Input(req)
	if err != nil {
		t.Fatalf("Input: %v", err)
	}
	return canonical(t, v)
}

// requireSameAsIncumbent fails unless Input and the reference build the
// same document for req.
func requireSameAsIncumbent(t *testing.T, req authorization.Request) {
	t.Helper()
	want, err := incumbentInput(req)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	if got, w := inputJSON(t, req), canonical(t, want); got != w {
		t.Errorf("input differs from opa-docker-authz's\n got: %s\nwant: %s", got, w)
	}
}

func jsonCreate(uri, body string) authorization.Request {
	return authorization.Request{
		RequestMethod:  "POST",
		RequestURI:     uri,
		RequestBody:    []byte(body),
		RequestHeaders: map[string]string{"Content-Type": "application/json", "Content-Length": "99", "User-Agent": "Docker-Client/28.2.2 (linux)"},
	}
}

// The log example of opa-docker-authz's README: a pull, with its query
// decoded, its path split, no body (text/plain) and no bind mounts. The
// README shows "BindMounts": [], written by an older version; since
// listBindMounts returns a nil slice, the plugin has sent null.
func TestInputReadmeLogExample(t *testing.T) {
	req := authorization.Request{
		RequestMethod: "POST",
		RequestURI:    "/v1.40/images/create?fromImage=registry.company.com%3A8885%2Fbash&tag=latest",
		RequestHeaders: map[string]string{
			"Content-Length": "0",
			"Content-Type":   "text/plain",
			"User-Agent":     "Docker-Client/19.03.11 (linux)",
		},
	}
	want := `{"AuthMethod":"","BindMounts":null,"Body":null,` +
		`"Headers":{"Content-Length":"0","Content-Type":"text/plain","User-Agent":"Docker-Client/19.03.11 (linux)"},` +
		`"Method":"POST","Path":"/v1.40/images/create?fromImage=registry.company.com%3A8885%2Fbash\u0026tag=latest",` +
		`"PathArr":["","v1.40","images","create"],"PathPlain":"/v1.40/images/create",` +
		`"Query":{"fromImage":["registry.company.com:8885/bash"],"tag":["latest"]},"User":""}`
	if got := inputJSON(t, req); got != want {
		t.Errorf("input\n got: %s\nwant: %s", got, want)
	}
	requireSameAsIncumbent(t, req)
}

// opa-docker-authz's own TestListBindMounts cases, with its temporary
// directories, a ".." path and a symbolic link.
func TestBindMountsIncumbentCases(t *testing.T) {
	dotDot := t.TempDir() + "/../../../../"
	target := t.TempDir()
	link := filepath.Join(t.TempDir(), "target")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body string
		want       []BindMount
	}{
		{"a simple bind list, the named volume left out", `{"HostConfig":{"Binds":["/var:/home","volume:/var/lib/app:ro"]}}`, []BindMount{{"/var", false, "/var"}}},
		{"a .. path resolved", `{"HostConfig":{"Binds":["` + dotDot + `:/host"]}}`, []BindMount{{dotDot, false, "/"}}},
		{"a symlink resolved", `{"HostConfig":{"Binds":["` + link + `:/host"]}}`, []BindMount{{link, false, target}}},
		{"ro and rw", `{"HostConfig":{"Binds":["/var:/home:ro","/var/lib:/mnt:rw"]}}`, []BindMount{{"/var", true, "/var"}, {"/var/lib", false, "/var/lib"}}},
		{"neither Binds nor Mounts", `{"HostConfig":{}}`, nil},
		{"Binds null", `{"HostConfig":{"Binds":null}}`, nil},
		{"Binds empty", `{"HostConfig":{"Binds":[]}}`, nil},
		{"a mount list, the volume left out", `{"HostConfig":{"Mounts":[{"Source":"/var","Target":"/mnt","Type":"bind"},{"Source":"vol","Target":"/vol","Type":"volume","Labels":{"color":"red"}}]}}`, []BindMount{{"/var", false, "/var"}}},
		{"read-only mounts", `{"HostConfig":{"Mounts":[{"Source":"/var","Target":"/mnt","Type":"bind","ReadOnly":true},{"Source":"/home","Target":"/home","Type":"bind"}]}}`, []BindMount{{"/var", true, "/var"}, {"/home", false, "/home"}}},
		{"a mount without Source skipped", `{"HostConfig":{"Mounts":[{"Source":"/var","Target":"/mnt","Type":"bind","ReadOnly":true},{"Source1":"/home","Target":"/home","Type":"bind"}]}}`, []BindMount{{"/var", true, "/var"}}},
		{"Mounts null, Binds read", `{"HostConfig":{"Binds":["/var:/mnt/var:ro","/home:/home"],"Mounts":null}}`, []BindMount{{"/var", true, "/var"}, {"/home", false, "/home"}}},
		// Beyond its cases: what its code does with odd entries.
		{"ro only as the third of exactly three fields", `{"HostConfig":{"Binds":["/var:/a:ro,z","/var:/b:z:ro","/var"]}}`, []BindMount{{"/var", false, "/var"}, {"/var", false, "/var"}, {"/var", false, "/var"}}},
		{"entries of the wrong type skipped", `{"HostConfig":{"Binds":[1,null,{"a":1},"/var:/x"],"Mounts":["x",{"Type":"bind","Source":1},{"Type":"bind","Source":"/nonexistent/x","ReadOnly":"yes"}]}}`, []BindMount{{"/var", false, "/var"}, {"/nonexistent/x", false, ""}}},
		{"HostConfig matched exactly", `{"hostconfig":{"Binds":["/var:/x"]}}`, nil},
		{"HostConfig not an object", `{"HostConfig":[1]}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body map[string]any
			if err := json.Unmarshal([]byte(tc.body), &body); err != nil {
				t.Fatal(err)
			}
			got, err := BindMounts(body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("BindMounts = %+v, want %+v", got, tc.want)
			}
			requireSameAsIncumbent(t, jsonCreate("/v1.41/containers/create", tc.body))
		})
	}
}

// A create with binds and the privileged flag, as the docker CLI sends it:
// the body's numbers and booleans as the policy sees them, and BindMounts.
func TestInputCreateWithBinds(t *testing.T) {
	req := jsonCreate("/v1.41/containers/create?name=web",
		`{"Image":"nginx","Labels":{"com.example/deployment":"prod"},"HostConfig":{"Binds":["/etc:/host-etc:ro"],"Privileged":true,"Memory":1073741824,"NanoCpus":1.5e9,"SecurityOpt":["seccomp=unconfined"]}}`)
	got := inputJSON(t, req)
	for _, want := range []string{
		`"BindMounts":[{"ReadOnly":true,"Resolved":"/etc","Source":"/etc"}]`,
		`"Privileged":true`,
		`"Memory":1073741824`,
		`"NanoCpus":1500000000`,
		`"Query":{"name":["web"]}`,
		`"PathArr":["","v1.41","containers","create"]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("input lacks %s:\n%s", want, got)
		}
	}
	requireSameAsIncumbent(t, req)
}

// Numbers come out as opa-docker-authz's float64 round trip writes them,
// precision lost included; strings that are not UTF-8 as encoding/json
// writes them.
func TestInputNumbersAndStrings(t *testing.T) {
	req := jsonCreate("/v1.41/containers/create?x=%ff%fe", `{"a":1e21,"b":1e-7,"c":9007199254740993,"d":1.0,"e":-0,"f":"\ud800x","g":[0.1,100]}`)
	req.RequestHeaders["X-Bad"] = "a\xffb"
	got := inputJSON(t, req)
	for _, want := range []string{`"a":1e+21`, `"b":1e-7`, `"c":9007199254740992`, `"d":1`, `"e":-0`, "\"f\":\"\ufffdx\"", `"g":[0.1,100]`, "\"x\":[\"\ufffd\ufffd\"]", "\"X-Bad\":\"a\ufffdb\""} {
		if !strings.Contains(got, want) {
			t.Errorf("input lacks %s:\n%s", want, got)
		}
	}
	requireSameAsIncumbent(t, req)
}

// What a request that lacks parts builds: no headers, no body, no query.
func TestInputMissingFields(t *testing.T) {
	cases := map[string]authorization.Request{
		"nothing but the method":  {RequestMethod: "GET"},
		"no headers":              {RequestMethod: "GET", RequestURI: "/v1.41/containers/json"},
		"empty JSON body":         {RequestMethod: "POST", RequestURI: "/v1.41/containers/create", RequestHeaders: map[string]string{"Content-Type": "application/json"}},
		"JSON null body":          jsonCreate("/v1.41/containers/create", `null`),
		"body without HostConfig": jsonCreate("/v1.41/containers/create", `{"Image":"busybox"}`),
		"user from a certificate": {RequestMethod: "GET", RequestURI: "/_ping", User: "alice", UserAuthNMethod: "TLS"},
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			requireSameAsIncumbent(t, req)
		})
	}
	if got := inputJSON(t, authorization.Request{RequestMethod: "GET"}); got != `{"AuthMethod":"","BindMounts":null,"Body":null,"Headers":null,"Method":"GET","Path":"","PathArr":[""],"PathPlain":"","Query":{},"User":""}` {
		t.Errorf("input of a bare GET: %s", got)
	}
}

// The body is read only when dockerd would have passed it: a JSON media
// type. Unlike opa-docker-authz, parameters do not hide it.
func TestInputContentType(t *testing.T) {
	body := `{"HostConfig":{"Privileged":true}}`
	for ct, read := range map[string]bool{
		"application/json":                true,
		"application/json; charset=utf-8": true,
		"Application/JSON":                true,
		"text/plain":                      false,
		"":                                false,
		"application/x-tar":               false,
		"application/json;;":              false,
	} {
		req := jsonCreate("/v1.41/containers/create", body)
		req.RequestHeaders["Content-Type"] = ct
		got := inputJSON(t, req)
		if has := strings.Contains(got, `"Privileged":true`); has != read {
			t.Errorf("Content-Type %q: body read = %v, want %v", ct, has, read)
		}
		if sameContentTypeRule(req) {
			requireSameAsIncumbent(t, req)
		}
	}
}

// Requests opa-docker-authz refuses with an error before asking its
// policy: a JSON body that is not an object, and a target that is not a
// URL. Too many bind mounts are refused here too.
func TestInputBadRequests(t *testing.T) {
	many := make([]string, MaxBindMounts+1)
	for i := range many {
		many[i] = `"/tmp:/x"`
	}
	cases := []struct {
		name string
		req  authorization.Request
		want error
	}{
		{"malformed JSON", jsonCreate("/v1.41/containers/create", `{"Image":`), ErrBody},
		{"a JSON array", jsonCreate("/v1.41/containers/create", `[1,2]`), ErrBody},
		{"a JSON string", jsonCreate("/v1.41/containers/create", `"x"`), ErrBody},
		{"data after the object", jsonCreate("/v1.41/containers/create", `{} {}`), ErrBody},
		{"a number out of float64's range", jsonCreate("/v1.41/containers/create", `{"Memory":1e400}`), ErrBody},
		{"nested past the decoder's depth", jsonCreate("/v1.41/containers/create", `{"a":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`), ErrBody},
		{"a bad escape in the target", authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/%zz/json"}, ErrTarget},
		{"a control character in the target", authorization.Request{RequestMethod: "GET", RequestURI: "/v1.41/x\x7f"}, ErrTarget},
		{"too many bind mounts", jsonCreate("/v1.41/containers/create", `{"HostConfig":{"Binds":[`+strings.Join(many, ",")+`]}}`), ErrTooManyMounts},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Input(tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Input error = %v, want %v", err, tc.want)
			}
			if tc.want != ErrTooManyMounts {
				if _, err := incumbentInput(tc.req); err == nil {
					t.Errorf("the reference builds an input; opa-docker-authz would not")
				}
			}
		})
	}
}

// A body near dockerd's 4 MiB limit is read whole.
func TestInputHugeBody(t *testing.T) {
	label := strings.Repeat("x", 4<<20-200)
	req := jsonCreate("/v1.41/containers/create", `{"Image":"busybox","Labels":{"big":"`+label+`"}}`)
	v, err := Input(req)
	if err != nil {
		t.Fatal(err)
	}
	got := v.(ast.Object).Get(ast.StringTerm("Body")).Value.(ast.Object).Get(ast.StringTerm("Labels")).Value.(ast.Object).Get(ast.StringTerm("big")).Value.(ast.String)
	if len(got) != len(label) {
		t.Errorf("label of %d bytes read as %d", len(label), len(got))
	}
}

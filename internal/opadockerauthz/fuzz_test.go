package opadockerauthz

import (
	"errors"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"
)

// FuzzInput holds Input against the reference built as opa-docker-authz
// builds its input: whatever the client sends, either both refuse the
// request or both build the same document (bodies sent with a JSON media
// type that has parameters aside, which only Input reads), and Input never
// panics.
//
//	go test ./internal/opadockerauthz -run X -fuzz FuzzInput -fuzztime 1m
func FuzzInput(f *testing.F) {
	f.Add("POST", "/v1.41/containers/create?name=web", "application/json", []byte(`{"Image":"busybox","HostConfig":{"Binds":["/tmp:/x:ro","/:/host"],"Mounts":[{"Type":"bind","Source":"/etc","ReadOnly":true}],"Privileged":true}}`), "alice")
	f.Add("GET", "/v1.41/containers/json?all=1&filters=%7B%7D", "", []byte(nil), "")
	f.Add("HEAD", "/_ping", "", []byte(nil), "")
	f.Add("POST", "/v1.40/images/create?fromImage=registry.company.com%3A8885%2Fbash&tag=latest", "text/plain", []byte(nil), "bob")
	f.Add("POST", "/v1.41/containers/create", "application/json", []byte(`{"a":1e21,"b":-0,"c":[1.5e-9,null,true],"d":"\ud800"}`), "")
	f.Add("POST", "/v1.41/containers/create", "application/json", []byte(`{"Image":`), "")
	f.Add("POST", "/v1.41/containers/create", "application/json; charset=utf-8", []byte(`{"HostConfig":{"Privileged":true}}`), "")
	f.Add("GET", "/v1.41/x/%ff%zz?\x00", "application/json", []byte(`[]`), "\xff")
	f.Fuzz(func(t *testing.T, method, uri, contentType string, body []byte, authzUser string) {
		req := authorization.Request{
			RequestMethod:  method,
			RequestURI:     uri,
			RequestBody:    body,
			RequestHeaders: map[string]string{"Content-Type": contentType, "Authz-User": authzUser},
		}
		got, err := Input(req)
		if !sameContentTypeRule(req) {
			return
		}
		want, refErr := incumbentInput(req)
		if errors.Is(err, ErrTooManyMounts) {
			return // refused here only, by design
		}
		if (err != nil) != (refErr != nil) {
			t.Fatalf("Input error %v, reference error %v", err, refErr)
		}
		if err != nil {
			return
		}
		if g, w := canonical(t, got), canonical(t, want); g != w {
			t.Fatalf("input differs from the reference\n got: %s\nwant: %s", g, w)
		}
	})
}

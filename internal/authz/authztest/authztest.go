// Package authztest builds the plugin calls dockerd sends, for the tests
// of the packages that decide and log them.
package authztest

import (
	"encoding/json"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"
)

// CreateCall is the AuthZReq call of a container create named name (API
// version 1.41) whose JSON body is body.
func CreateCall(t testing.TB, name string, body any) authorization.Request {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return authorization.Request{
		RequestMethod:  "POST",
		RequestURI:     "/v1.41/containers/create?name=" + name,
		RequestBody:    raw,
		RequestHeaders: map[string]string{"Content-Type": "application/json"},
	}
}

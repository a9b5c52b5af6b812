package opadockerauthz

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/util"
)

// The incumbent cannot be built here (the Go module proxy does not serve
// github.com/open-policy-agent/opa-docker-authz), so these tests hold this
// package against a reference written the way opa-docker-authz's
// policy-file mode works at commit 51323aa: the input as a Go map given to
// rego.Input, which OPA round-trips through JSON, and the policy compiled
// from source on every request with rego.New. Any difference between that
// and the directly built, prepared path shows up as a failing comparison.

// incumbentInput is the input document as opa-docker-authz builds it: the
// body only for the exact Content-Type "application/json", then a Go map
// that OPA round-trips through JSON (util.RoundTrip, as rego.Input does in
// OPA v1.7.1).
func incumbentInput(req authorization.Request) (ast.Value, error) {
	var body map[string]any
	if req.RequestHeaders["Content-Type"] == "application/json" && len(req.RequestBody) > 0 {
		if err := json.Unmarshal(req.RequestBody, &body); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(req.RequestURI)
	if err != nil {
		return nil, err
	}
	mounts, err := BindMounts(body)
	if err != nil {
		return nil, err
	}
	var doc any = map[string]any{
		"Headers":    req.RequestHeaders,
		"Path":       req.RequestURI,
		"PathPlain":  u.Path,
		"PathArr":    strings.Split(u.Path, "/"),
		"Query":      u.Query(),
		"Method":     req.RequestMethod,
		"Body":       body,
		"User":       req.User,
		"AuthMethod": req.UserAuthNMethod,
		"BindMounts": mounts,
	}
	if err := util.RoundTrip(&doc); err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(doc)
}

// incumbentAllows is opa-docker-authz's decision in policy-file mode: HEAD
// /_ping skipped, otherwise the module compiled and evaluated for this one
// request; true only when the query is the boolean true.
func incumbentAllows(t testing.TB, file string, src []byte, req authorization.Request) bool {
	t.Helper()
	if req.RequestMethod == "HEAD" && req.RequestURI == "/_ping" {
		return true
	}
	// OPA 1.22's rego.Input round-trips more lightly than the 1.7.1 the
	// incumbent links: the input goes in as 1.7.1 would have made it.
	in, err := incumbentInput(req)
	if err != nil {
		return false
	}
	rs, err := rego.New(rego.Query(Query), rego.Module(file, string(src)), rego.ParsedInput(in)).Eval(context.Background())
	if err != nil || len(rs) == 0 {
		return false
	}
	b, ok := rs[0].Expressions[0].Value.(bool)
	return ok && b
}

// canonical renders v as JSON with sorted keys and numbers as written, so
// that two documents compare equal only if a policy could not tell them
// apart (ast's own comparison finds 1e+21 and 1000000000000000000000 equal).
func canonical(t testing.TB, v ast.Value) string {
	t.Helper()
	x, err := ast.JSON(v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameContentTypeRule reports whether this package and the incumbent read
// the body of req alike: they differ only for a JSON media type with
// parameters (or odd spacing), which this package reads and the
// incumbent ignores.
func sameContentTypeRule(req authorization.Request) bool {
	ct := req.RequestHeaders["Content-Type"]
	return ct == "application/json" || !isJSON(ct) || len(req.RequestBody) == 0
}

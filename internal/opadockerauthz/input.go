// Package opadockerauthz runs policies written for opa-docker-authz
// (github.com/open-policy-agent/opa-docker-authz) unchanged: it builds the
// input document that plugin gives its policy from the authorization call
// dockerd sends, and evaluates data.docker.authz.allow on it with a query
// prepared once.
//
// The input is opa-docker-authz's, key for key and value for value, as its
// policy-file mode builds it (main.go's makeInput and listBindMounts at
// commit 51323aa, the plugin's OPA v1.7.1 included): a Go map passed to
// rego.Input, which OPA turns into a Rego value through a JSON round trip.
// This package builds the Rego value directly, with the same result:
// numbers are decoded as float64 and written as encoding/json writes them,
// and strings that are not valid UTF-8 have each bad byte replaced by
// U+FFFD. One deliberate difference: the body is read for every
// Content-Type dockerd passes a body for (application/json, with or
// without parameters), not only for the exact string "application/json",
// so "application/json; charset=utf-8" cannot hide a body from the policy.
package opadockerauthz

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/open-policy-agent/opa/v1/ast"
)

// ErrBody marks an input that could not be built because the request's
// JSON body is not a JSON object; opa-docker-authz refuses such a request
// with an error, without asking its policy.
var ErrBody = errors.New("the request body is not a JSON object")

// ErrTarget marks an input that could not be built because the request
// target is not a URL; opa-docker-authz refuses such a request too.
var ErrTarget = errors.New("the request target is not a URL")

// ErrTooManyMounts marks a create with more than MaxBindMounts bind
// mounts. Each one costs a walk of the host's file system to resolve its
// links; a body of four MiB could ask for hundreds of thousands. Leaving
// the rest unresolved would let a policy that checks Resolved be padded
// past, so the request is refused instead (opa-docker-authz resolves them
// all, however long that takes).
var ErrTooManyMounts = fmt.Errorf("the container create has more than %d bind mounts", MaxBindMounts)

// MaxBindMounts bounds the bind mounts of one create whose links are
// resolved.
const MaxBindMounts = 1024

// Input builds the input document opa-docker-authz gives its policy for
// req:
//
//	Headers     the request headers dockerd forwarded (null when none)
//	Path        the request target as sent, query included
//	PathPlain   its path, percent-decoded, without the query
//	PathArr     PathPlain split at "/" (so it starts with "")
//	Query       the query: each name to the list of its values
//	Method      the HTTP method
//	Body        the JSON body as an object, null without one
//	User        the TLS client certificate's user, "" on the unix socket
//	AuthMethod  how dockerd authenticated User
//	BindMounts  the create body's bind mounts (HostConfig.Binds with an
//	            absolute source, HostConfig.Mounts of type bind) as
//	            {Source, ReadOnly, Resolved}, null when none
//
// Resolved is Source with its symbolic links followed and cleaned, on this
// host's file system as this process sees it, "" when that fails (the path
// does not exist, a permission is missing).
//
// The error wraps ErrBody, ErrTarget or ErrTooManyMounts.
func Input(req authorization.Request) (ast.Value, error) {
	body, err := decodeBody(req)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(req.RequestURI)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTarget, err)
	}
	mounts, err := BindMounts(body)
	if err != nil {
		return nil, err
	}
	bodyValue := ast.Value(ast.Null{})
	if body != nil {
		bodyValue = jsonValue(body)
	}
	return ast.NewObject(
		item("Headers", stringMap(req.RequestHeaders)),
		item("Path", jsonString(req.RequestURI)),
		item("PathPlain", jsonString(u.Path)),
		item("PathArr", stringArray(strings.Split(u.Path, "/"))),
		item("Query", queryValue(u.Query())),
		item("Method", jsonString(req.RequestMethod)),
		item("Body", bodyValue),
		item("User", jsonString(req.User)),
		item("AuthMethod", jsonString(req.UserAuthNMethod)),
		item("BindMounts", bindMountsValue(mounts)),
	), nil
}

// decodeBody decodes a JSON body into a map, as opa-docker-authz does (so
// numbers become float64 and the last of duplicate keys wins); nil when
// there is no JSON body. A body of JSON null decodes to nil as well.
func decodeBody(req authorization.Request) (map[string]any, error) {
	if len(req.RequestBody) == 0 || !isJSON(req.RequestHeaders["Content-Type"]) {
		return nil, nil
	}
	var body map[string]any
	if err := json.Unmarshal(req.RequestBody, &body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBody, err)
	}
	return body, nil
}

// isJSON is dockerd's own test for passing a body to its authorization
// plugins (pkg/authorization): the media type is application/json,
// parameters allowed.
func isJSON(contentType string) bool {
	media, _, err := mime.ParseMediaType(contentType)
	return err == nil && media == "application/json"
}

// BindMount is one bind mount of a container create, as opa-docker-authz
// lists it in its input's BindMounts.
type BindMount struct {
	// Source is the host path as the request names it.
	Source string
	// ReadOnly is true for a Binds entry "SRC:DST:ro" (exactly three
	// fields, the third "ro") and a Mounts entry with "ReadOnly": true.
	ReadOnly bool
	// Resolved is Source with symbolic links followed, "" when that fails.
	Resolved string
}

// BindMounts lists the bind mounts of a decoded create body: first each
// HostConfig.Binds string that starts with "/" (a named volume does not),
// its source being what precedes the first ":"; then each HostConfig.Mounts
// object whose Type and Source are strings and Type is "bind". Keys match
// exactly, as in opa-docker-authz: dockerd itself would also accept
// "hostconfig" or "binds", which this list then misses (the Body still has
// them). Entries of the wrong type are skipped. Over MaxBindMounts, the
// error is ErrTooManyMounts.
func BindMounts(body map[string]any) ([]BindMount, error) {
	var out []BindMount
	hostConfig, ok := body["HostConfig"].(map[string]any)
	if !ok {
		return nil, nil
	}
	if binds, ok := hostConfig["Binds"].([]any); ok {
		for _, b := range binds {
			s, ok := b.(string)
			if !ok || !strings.HasPrefix(s, "/") {
				continue
			}
			parts := strings.Split(s, ":")
			out = append(out, BindMount{Source: parts[0], ReadOnly: len(parts) == 3 && parts[2] == "ro"})
		}
	}
	if mounts, ok := hostConfig["Mounts"].([]any); ok {
		for _, m := range mounts {
			obj, ok := m.(map[string]any)
			if !ok {
				continue
			}
			typ, typeOK := obj["Type"].(string)
			src, srcOK := obj["Source"].(string)
			if !typeOK || !srcOK || typ != "bind" {
				continue
			}
			ro, _ := obj["ReadOnly"].(bool)
			out = append(out, BindMount{Source: src, ReadOnly: ro})
		}
	}
	if len(out) > MaxBindMounts {
		return nil, ErrTooManyMounts
	}
	// Resolving links is what catches a bind of /home/u/root where that is
	// a link to /: a policy that checks Source alone is easily fooled.
	for i := range out {
		if r, err := filepath.EvalSymlinks(out[i].Source); err == nil {
			out[i].Resolved = filepath.Clean(r)
		}
	}
	return out, nil
}

func item(key string, v ast.Value) [2]*ast.Term {
	return [2]*ast.Term{ast.StringTerm(key), ast.NewTerm(v)}
}

// jsonString is s as it comes out of a JSON round trip: encoding/json
// writes each byte that is not part of valid UTF-8 as U+FFFD.
func jsonString(s string) ast.String {
	if utf8.ValidString(s) {
		return ast.String(s)
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return ast.String(b.String())
}

func stringMap(m map[string]string) ast.Value {
	if m == nil {
		return ast.Null{}
	}
	kvs := make([][2]*ast.Term, 0, len(m))
	for k, v := range m {
		kvs = append(kvs, [2]*ast.Term{ast.NewTerm(jsonString(k)), ast.NewTerm(jsonString(v))})
	}
	return ast.NewObject(kvs...)
}

func stringArray(ss []string) ast.Value {
	if ss == nil {
		return ast.Null{}
	}
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.NewTerm(jsonString(s))
	}
	return ast.NewArray(terms...)
}

// queryValue is url.Values as JSON writes it: never null (url.Values from
// Query is never nil), each name to an array of strings.
func queryValue(q url.Values) ast.Value {
	kvs := make([][2]*ast.Term, 0, len(q))
	for k, vs := range q {
		kvs = append(kvs, [2]*ast.Term{ast.NewTerm(jsonString(k)), ast.NewTerm(stringArray(vs))})
	}
	return ast.NewObject(kvs...)
}

func bindMountsValue(ms []BindMount) ast.Value {
	if ms == nil {
		return ast.Null{}
	}
	terms := make([]*ast.Term, len(ms))
	for i, m := range ms {
		terms[i] = ast.ObjectTerm(
			item("Source", jsonString(m.Source)),
			item("ReadOnly", ast.Boolean(m.ReadOnly)),
			item("Resolved", jsonString(m.Resolved)),
		)
	}
	return ast.NewArray(terms...)
}

// jsonValue converts what encoding/json decoded into an interface value.
// A float64 is written as encoding/json writes it (1e+21, 1e-7 as 1e-07),
// which is the number the policy sees after OPA's round trip.
func jsonValue(v any) ast.Value {
	switch x := v.(type) {
	case nil:
		return ast.Null{}
	case bool:
		return ast.Boolean(x)
	case float64:
		// Finite: the decoder refuses numbers out of float64's range.
		b, err := json.Marshal(x)
		if err != nil {
			return ast.Null{}
		}
		return ast.Number(b)
	case string:
		return jsonString(x)
	case []any:
		terms := make([]*ast.Term, len(x))
		for i, e := range x {
			terms[i] = ast.NewTerm(jsonValue(e))
		}
		return ast.NewArray(terms...)
	case map[string]any:
		kvs := make([][2]*ast.Term, 0, len(x))
		for k, e := range x {
			kvs = append(kvs, [2]*ast.Term{ast.NewTerm(jsonString(k)), ast.NewTerm(jsonValue(e))})
		}
		return ast.NewObject(kvs...)
	}
	// encoding/json decodes into nothing else.
	return ast.Null{}
}

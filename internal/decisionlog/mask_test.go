package decisionlog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestParseMaskAndMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"/container/labels/secret*", []string{"/container/labels/secret", "/container/labels/Secret.Key"}, []string{"/container/labels/my-secret", "/container/labels", "/image/labels/secret"}},
		{"/**/password", []string{"/password", "/a/b/password", "/container/labels/PASSWORD"}, []string{"/a/password/b", "/passwords"}},
		{"/container/*/x", []string{"/container/labels/x", "/container/a/x"}, []string{"/container/x", "/container/a/b/x"}},
		{"/container/command/1", []string{"/container/command/1"}, []string{"/container/command/10"}},
		{"/container/labels/a~1b~0c", []string{"/container/labels/a/b~c"}, []string{"/container/labels/a"}},
		{"/request/**", []string{"/request", "/request/query/x/0"}, []string{"/container"}},
		{"/*a*b*", []string{"/ab", "/xaybz"}, []string{"/ba"}},
	} {
		m, err := ParseMask(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		for _, p := range tt.match {
			if !m.matches(splitPath(p)) {
				t.Errorf("%s does not match %s", tt.pattern, p)
			}
		}
		for _, p := range tt.noMatch {
			if m.matches(splitPath(p)) {
				t.Errorf("%s matches %s", tt.pattern, p)
			}
		}
	}
}

// splitPath splits a test path; "a/b" as one key is written a/b in the
// tests only where the pattern escapes it.
func splitPath(p string) []string {
	if p == "/container/labels/a/b~c" {
		return []string{"container", "labels", "a/b~c"}
	}
	return strings.Split(p[1:], "/")
}

func TestParseMaskErrors(t *testing.T) {
	for _, p := range []string{"", "/", "container/labels", "/a//b", "/a/", "/a**", "/**/**/**/x/**", "/a~2", "/a~", strings.Repeat("/a", 40)} {
		if _, err := ParseMask(p); err == nil {
			t.Errorf("%q: no error", p)
		}
	}
}

// The encoder writes the document as JSON, masking environment values,
// build arguments and credential headers, and leaves the value alone.
func TestEncoderMasksBuiltins(t *testing.T) {
	doc := ast.MustParseTerm(`{
		"container": {"env": ["PATH=/bin", "DB_PASSWORD=envsecret", "BARE"], "labels": {"app": "x", "db.password": "labelsecret"}},
		"request": {"query": {"buildargs": ["{\"NPM_TOKEN\":\"buildsecret\",\"V\":\"1\"}"], "token": ["querysecret"], "name": ["n"]},
		            "headers": {"X-Registry-Auth": "authsecret", "User-Agent": "ua"}},
		"n": 1.5, "b": true, "z": null, "s": {"a", "b"}, "esc": "a\"\\\n\u2028\u0001"
	}`).Value
	before := doc.String()
	e := encoder{}
	out := e.appendInput(nil, doc)
	if doc.String() != before {
		t.Fatal("the encoder changed the document")
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, s := range []string{"envsecret", "labelsecret", "buildsecret", "querysecret", "authsecret"} {
		if strings.Contains(string(out), s) {
			t.Errorf("output carries %s: %s", s, out)
		}
	}
	for _, s := range []string{`"PATH=<redacted>"`, `"BARE"`, `{\"NPM_TOKEN\":\"<redacted>\",\"V\":\"<redacted>\"}`, `"app":"x"`, `"name":["n"]`, `"User-Agent":"ua"`, `"n":1.5`, `"s":["a","b"]`, `\u2028`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("output lacks %s: %s", s, out)
		}
	}
	if v["esc"] != "a\"\\\n\u2028\u0001" {
		t.Errorf("escaping: %q", v["esc"])
	}
}

func FuzzParseMask(f *testing.F) {
	for _, s := range []string{"/container/labels/secret*", "/**/password", "/a~1b/~0", "/*/*/**", "/a/**/b/**/c", "", "x", "/a//b"} {
		f.Add(s, "container/labels/secret.key")
	}
	f.Add("/\x8f", "0") // not UTF-8: letters are folded as ASCII only
	f.Fuzz(func(t *testing.T, pattern, path string) {
		m, err := ParseMask(pattern)
		if err != nil {
			return
		}
		if m.String() != pattern || len(m.segments) == 0 {
			t.Fatalf("%q parsed as %q with %d segments", pattern, m.String(), len(m.segments))
		}
		p := strings.Split(path, "/")
		if len(p) > maxDepth {
			p = p[:maxDepth]
		}
		m.matches(p)
		// A pattern without wildcards matches the path it spells.
		if !strings.ContainsAny(pattern, "*~") && !m.matches(strings.Split(lowerASCII(pattern[1:]), "/")) {
			t.Fatalf("%q does not match itself", pattern)
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00\xff", "\u2028", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want, _ := json.Marshal(s)
		var w string
		_ = json.Unmarshal(want, &w)
		if got != w {
			t.Fatalf("%q: got %q, encoding/json %q", s, got, w)
		}
	})
}

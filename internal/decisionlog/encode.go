package decisionlog

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/redact"
)

// maxDepth bounds how deep the encoder follows the input: the document is
// the plugin's own and shallow, and a bound keeps a bug from recursing
// without end.
const maxDepth = 32

// maskedHeaders are keys whose values are registry or HTTP credentials
// wherever they appear: headers are not in the input today, and a future
// field that carries them must not leak them into the log.
var maskedHeaders = []string{"x-registry-auth", "x-registry-config", "authorization", "proxy-authorization"}

// encoder writes an input document as JSON, masking on the way: the
// document itself, which the policies evaluated, is never changed.
type encoder struct {
	masks []Mask
	path  []string // keys and indexes from the root to the current value
	buf   []byte   // the last input written, reused
}

// appendInput appends v as masked JSON.
func (e *encoder) appendInput(b []byte, v ast.Value) []byte {
	e.path = e.path[:0]
	return e.value(b, v)
}

func (e *encoder) value(b []byte, v ast.Value) []byte {
	if len(e.path) > maxDepth {
		return appendString(b, "<too deep>")
	}
	for i := range e.masks {
		if e.masks[i].matches(e.path) {
			return appendString(b, redact.Marker)
		}
	}
	switch x := v.(type) {
	case ast.Null:
		return append(b, "null"...)
	case ast.Boolean:
		return strconv.AppendBool(b, bool(x))
	case ast.Number:
		if json.Valid([]byte(x)) {
			return append(b, x...)
		}
		return appendString(b, string(x))
	case ast.String:
		return e.str(b, string(x))
	case *ast.Array:
		if e.parent() == "env" {
			return e.env(b, x)
		}
		b = append(b, '[')
		for i := 0; i < x.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			e.path = append(e.path, strconv.Itoa(i))
			b = e.value(b, x.Elem(i).Value)
			e.path = e.path[:len(e.path)-1]
		}
		return append(b, ']')
	case ast.Set:
		b = append(b, '[')
		i := 0
		x.Foreach(func(t *ast.Term) {
			if i > 0 {
				b = append(b, ',')
			}
			e.path = append(e.path, strconv.Itoa(i))
			b = e.value(b, t.Value)
			e.path = e.path[:len(e.path)-1]
			i++
		})
		return append(b, ']')
	case ast.Object:
		parent := e.parent()
		b = append(b, '{')
		first := true
		x.Foreach(func(k, t *ast.Term) {
			key, ok := k.Value.(ast.String)
			if !ok {
				key = ast.String(k.Value.String())
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, string(key))
			b = append(b, ':')
			e.path = append(e.path, string(key))
			switch {
			case secretValue(parent, string(key)):
				b = appendString(b, redact.Marker)
			case parent == "query" && strings.EqualFold(string(key), "buildargs"):
				b = e.buildArgs(b, t.Value)
			default:
				b = e.value(b, t.Value)
			}
			e.path = e.path[:len(e.path)-1]
		})
		return append(b, '}')
	}
	return appendString(b, v.String())
}

// parent is the lower-case key of the object holding the current value.
func (e *encoder) parent() string {
	if len(e.path) == 0 {
		return ""
	}
	return strings.ToLower(e.path[len(e.path)-1])
}

// secretValue reports whether the value at key, in an object under
// parent, is masked whole: a credential header anywhere, and a label or a
// query parameter whose name says secret (com.acme.db-password, ?token=).
func secretValue(parent, key string) bool {
	for _, h := range maskedHeaders {
		if strings.EqualFold(key, h) {
			return true
		}
	}
	return (parent == "labels" || parent == "query") && redact.SensitiveName(key)
}

// str writes a string of the document with the credentials it quotes
// redacted (a healthcheck's curl -u, a probe URL's token).
func (e *encoder) str(b []byte, s string) []byte { return appendString(b, redact.String(s)) }

// env writes an environment list with every value masked: KEY=VALUE
// becomes KEY=<redacted>, a bare KEY stays.
func (e *encoder) env(b []byte, a *ast.Array) []byte {
	b = append(b, '[')
	for i := 0; i < a.Len(); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		s, ok := a.Elem(i).Value.(ast.String)
		if !ok {
			b = appendString(b, redact.Marker)
			continue
		}
		if k, _, found := strings.Cut(string(s), "="); found {
			b = appendString(b, k+"="+redact.Marker)
		} else {
			b = appendString(b, string(s))
		}
	}
	return append(b, ']')
}

// buildArgs writes /build's buildargs parameter (a JSON object of build
// arguments in each value) with the arguments' names and without their
// values, which are often credentials.
func (e *encoder) buildArgs(b []byte, v ast.Value) []byte {
	a, ok := v.(*ast.Array)
	if !ok {
		return appendString(b, redact.Marker)
	}
	b = append(b, '[')
	for i := 0; i < a.Len(); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		s, _ := a.Elem(i).Value.(ast.String)
		var args map[string]any
		if json.Unmarshal([]byte(s), &args) != nil {
			b = appendString(b, redact.Marker)
			continue
		}
		names := make([]string, 0, len(args))
		for k := range args {
			names = append(names, k)
		}
		slices.Sort(names)
		var raw []byte
		raw = append(raw, '{')
		for j, k := range names {
			if j > 0 {
				raw = append(raw, ',')
			}
			raw = appendString(raw, k)
			raw = append(raw, ':')
			raw = appendString(raw, redact.Marker)
		}
		raw = append(raw, '}')
		b = appendString(b, string(raw))
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json writes it
// without HTML escaping: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped so the line is safe in JavaScript too.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

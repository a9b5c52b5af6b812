package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// decodeDataValue decodes the first JSON value of b straight into a Rego
// value, as encoding/json (with UseNumber) and ast.InterfaceToValue would
// together, without the Go maps in between: the generated catalog is most
// of the start-up of `authz check`, and building its Go form only to
// convert it again cost about as much as the conversion. Like
// json.Decoder.Decode, it reads one value and ignores what follows it.
// On malformed input it returns encoding/json's error, so that messages
// stay those of the standard decoder.
func decodeDataValue(b []byte) (ast.Value, error) {
	d := jsonDecoder{b: b, shared: map[string]*ast.Term{}}
	d.space()
	v, ok := d.value(0)
	if !ok {
		var x any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&x); err != nil {
			return nil, err
		}
		// encoding/json accepted what the fast path refused (it should
		// not happen): trust the standard decoder.
		return ast.InterfaceToValue(x)
	}
	return v, nil
}

// maxDataDepth bounds nesting as encoding/json does (10,000 levels), so
// that a hostile data file cannot exhaust the stack.
const maxDataDepth = 10000

// jsonDecoder is a strict JSON (RFC 8259) reader over b. Its methods
// return ok=false on anything malformed; decodeDataValue then asks
// encoding/json for the error message.
type jsonDecoder struct {
	b []byte
	i int
	// stack holds the members of the arrays and objects being read
	// (objects as key, value, key, value), so that reading them allocates
	// only the finished value.
	stack []*ast.Term
	// shared holds one term for each string and number of the document
	// (by its JSON text), used by every occurrence: the catalog repeats
	// the same keys, programs, paths and indexes thousands of times, and
	// Rego values are never modified in place.
	shared map[string]*ast.Term
}

func (d *jsonDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (ast.Value, bool) {
	if d.i >= len(d.b) || depth > maxDataDepth {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"' || c == '-' || c >= '0' && c <= '9':
		t, ok := d.term(depth)
		if !ok {
			return nil, false
		}
		return t.Value, true
	case d.literal("true"):
		return ast.Boolean(true), true
	case d.literal("false"):
		return ast.Boolean(false), true
	case d.literal("null"):
		return ast.NullValue, true
	}
	return nil, false
}

func (d *jsonDecoder) literal(lit string) bool {
	if bytes.HasPrefix(d.b[d.i:], []byte(lit)) {
		d.i += len(lit)
		return true
	}
	return false
}

func (d *jsonDecoder) object(depth int) (ast.Value, bool) {
	d.i++ // {
	base := len(d.stack)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return ast.NewObject(), true
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, false
		}
		k, ok := d.stringTerm()
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, false
		}
		d.i++
		d.space()
		v, ok := d.term(depth)
		if !ok {
			return nil, false
		}
		d.stack = append(d.stack, k, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			continue
		case '}':
			d.i++
			members := d.stack[base:]
			// Insert keeps the last of duplicate keys, as encoding/json
			// does when it decodes into a map.
			obj := ast.NewObjectWithCapacity(len(members) / 2)
			for i := 0; i < len(members); i += 2 {
				obj.Insert(members[i], members[i+1])
			}
			clear(members)
			d.stack = d.stack[:base]
			return obj, true
		}
		return nil, false
	}
}

func (d *jsonDecoder) array(depth int) (ast.Value, bool) {
	d.i++ // [
	base := len(d.stack)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return ast.NewArray(), true
	}
	for {
		d.space()
		v, ok := d.term(depth)
		if !ok {
			return nil, false
		}
		d.stack = append(d.stack, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			continue
		case ']':
			d.i++
			arr := ast.NewArray(slices.Clone(d.stack[base:])...)
			clear(d.stack[base:])
			d.stack = d.stack[:base]
			return arr, true
		}
		return nil, false
	}
}

// term is the next value as a term: strings and numbers come shared.
func (d *jsonDecoder) term(depth int) (*ast.Term, bool) {
	if d.i < len(d.b) && d.b[d.i] == '"' {
		return d.stringTerm()
	}
	if d.i < len(d.b) && (d.b[d.i] == '-' || d.b[d.i] >= '0' && d.b[d.i] <= '9') {
		return d.numberTerm()
	}
	v, ok := d.value(depth)
	if !ok {
		return nil, false
	}
	return ast.NewTerm(v), true
}

// stringTerm reads a JSON string as a term, the same term for every equal
// string of the document.
func (d *jsonDecoder) stringTerm() (*ast.Term, bool) {
	start := d.i
	if !d.skipString() {
		return nil, false
	}
	quoted := d.b[start:d.i]
	if t, ok := d.shared[string(quoted)]; ok {
		return t, true
	}
	s, ok := unquote(quoted)
	if !ok {
		return nil, false
	}
	t := ast.StringTerm(s)
	d.shared[string(quoted)] = t
	return t, true
}

// skipString moves past a JSON string, refusing control characters in
// it; unquote checks its escapes.
func (d *jsonDecoder) skipString() bool {
	d.i++ // "
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			return true
		case c == '\\':
			d.i += 2 // the escaped byte cannot end the string
		case c < 0x20:
			return false
		default:
			d.i++
		}
	}
	return false
}

// unquote is the string quoted stands for. Without escapes, and in valid
// UTF-8, it is the bytes between the quotes; anything else (escapes,
// invalid UTF-8, which encoding/json replaces with U+FFFD) goes through
// encoding/json.
func unquote(quoted []byte) (string, bool) {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw), true
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", false
	}
	return s, true
}

// numberTerm reads a JSON number as the Rego number encoding/json's
// json.Number would have become, the same term for every occurrence of
// the same text.
func (d *jsonDecoder) numberTerm() (*ast.Term, bool) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.digits() == 0:
		return nil, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, false
		}
	}
	lit := d.b[start:d.i]
	if t, ok := d.shared[string(lit)]; ok {
		return t, true
	}
	v, err := ast.InterfaceToValue(json.Number(lit))
	if err != nil {
		return nil, false
	}
	t := ast.NewTerm(v)
	d.shared[string(lit)] = t
	return t, true
}

func (d *jsonDecoder) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

// errNotObject is returned for a data file whose top level is not a JSON
// object.
var errNotObject = errors.New("the top level must be a JSON object")

// Command inputschema writes rego/schemas/input.json, the JSON Schema of the
// policy input, from the Go types in internal/input (input.Document and the
// types it holds). Rules reference it from METADATA (`schemas: - input:
// schema.input`, rego/input_schema.rego), so that `opa check --strict
// --schema rego/schemas` and the engine reject a rule that reads a field the
// document does not have, such as input.container.helthcheck.
//
// The schema is generated rather than written by hand so that it cannot
// drift from the Go types: run `go generate ./internal/inputschema` after
// changing them. TestSchemaFileIsCurrent fails until the committed file is
// regenerated, and TestDocumentsMatchSchema checks real documents, built
// by the constructors production uses, against it.
//
// Every struct is a closed object (additionalProperties: false): OPA's
// type checker treats an object schema with properties as closed anyway,
// whatever additionalProperties says, and saying so lets ordinary JSON
// Schema validators agree with it. Maps (labels, query, programs,
// depends_on, services) are objects without properties, which OPA treats
// as open: any key, any value.
package main

//go:generate go run . -o ../../rego/schemas/input.json

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/hardened-authz/hardened-authz/internal/input"
)

// rootType is the document the schema describes. It is the schema's root,
// "#", so Project.services refers back to it.
var rootType = reflect.TypeFor[input.Document]()

func main() {
	out := flag.String("o", "", "write the schema to this file (default: standard output)")
	flag.Parse()
	b, err := generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "inputschema:", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "inputschema:", err)
		os.Exit(1)
	}
}

// generate returns the schema file's content: indented JSON with
// properties in field order and definitions by name, so the file reads
// like the types and diffs well.
func generate() ([]byte, error) {
	g := &generator{defs: map[string]obj{}, types: map[string]reflect.Type{}}
	root, err := g.object(rootType)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(g.defs))
	for name := range g.defs {
		names = append(names, name)
	}
	sort.Strings(names)
	defs := obj{}
	for _, name := range names {
		defs = append(defs, kv{name, g.defs[name]})
	}
	root = append(obj{
		{"$schema", "http://json-schema.org/draft-07/schema#"},
		{"title", "hardened-authz policy input"},
		{"description", "The input document every hardened-authz rule evaluates; docs/input.md describes each field. " +
			"Generated from the Go types in internal/input by `go generate ./internal/inputschema`: do not edit."},
	}, root...)
	root = append(root, kv{"definitions", defs})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type generator struct {
	// defs holds one schema per struct type other than the root, by type
	// name, for "$ref": "#/definitions/<name>".
	defs map[string]obj
	// types is the type of each definition, so two types of one name
	// cannot share it.
	types map[string]reflect.Type
}

// obj is a JSON object that keeps its keys in order: the schema's keywords
// in the usual order and properties in the Go types' field order, so the
// file reads like the types and like docs/input.md.
type obj []kv

type kv struct {
	k string
	v any
}

// MarshalJSON encodes the pairs in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(p.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(p.v)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// schema returns the schema of a value of type t as encoding/json encodes
// it (which is what Document.Value builds, TestValueMatchesJSON says).
func (g *generator) schema(t reflect.Type) (obj, error) {
	switch t.Kind() {
	case reflect.Pointer:
		// Only omitempty fields are pointers: absent rather than null.
		return g.schema(t.Elem())
	case reflect.String:
		return obj{{"type", "string"}}, nil
	case reflect.Bool:
		return obj{{"type", "boolean"}}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{{"type", "integer"}}, nil
	case reflect.Float32, reflect.Float64:
		return obj{{"type", "number"}}, nil
	case reflect.Slice, reflect.Array:
		items, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return obj{{"type", "array"}, {"items", items}}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map keys must be strings to be JSON object keys", t)
		}
		values, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		// No "properties": an open object for OPA, whose type checker
		// ignores additionalProperties; validators still check the values.
		return obj{{"type", "object"}, {"additionalProperties", values}}, nil
	case reflect.Interface:
		// Any JSON value: the catalog entry (input.image.catalog.entry)
		// is the catalog's object as the rules define it.
		return obj{}, nil
	case reflect.Struct:
		if t == rootType {
			return obj{{"$ref", "#"}}, nil
		}
		if prev, ok := g.types[t.Name()]; ok && prev != t {
			return nil, fmt.Errorf("%s and %s: two types named %s", prev, t, t.Name())
		}
		if _, done := g.defs[t.Name()]; !done {
			g.types[t.Name()] = t
			g.defs[t.Name()] = nil // a recursive type refers to itself by name
			def, err := g.object(t)
			if err != nil {
				return nil, err
			}
			g.defs[t.Name()] = def
		}
		return obj{{"$ref", "#/definitions/" + t.Name()}}, nil
	}
	return nil, fmt.Errorf("%s: no JSON Schema for kind %s", t, t.Kind())
}

// object is the closed object schema of struct t: its exported fields by
// JSON name, those without omitempty required.
func (g *generator) object(t reflect.Type) (obj, error) {
	props := obj{}
	required := []string{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		if f.Anonymous {
			return nil, fmt.Errorf("%s.%s: embedded fields are not supported", t, f.Name)
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			// Every field of the input is named for Rego; a Go name would
			// be a mistake that rules would have to spell in Go case.
			return nil, fmt.Errorf("%s.%s: no json tag", t, f.Name)
		}
		s, err := g.schema(f.Type)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.Name, err)
		}
		props = append(props, kv{name, s})
		if !hasOpt(opts, "omitempty") && !hasOpt(opts, "omitzero") {
			required = append(required, name)
		}
	}
	return obj{
		{"type", "object"},
		{"properties", props},
		{"required", required},
		{"additionalProperties", false},
	}, nil
}

func hasOpt(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

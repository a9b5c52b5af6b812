package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// inputSchemaPath is where the library keeps the JSON Schema of the input
// document (rego/schemas/input.json, generated from internal/input's
// types). The library's METADATA (rego/input_schema.rego) refers to it as
// schema.input for every package under hardened, as `opa check --schema
// rego/schemas` loads it.
const inputSchemaPath = "schemas/input.json"

// Sources names where the policy set comes from. Library holds the shared
// Rego library, Rules the rule families and their data. Each directory in
// Overrides is laid over Rules: a file with the same relative path replaces
// the shipped one, any other file is added.
type Sources struct {
	Library   fs.FS
	Rules     fs.FS
	Overrides []string
	// TrustShipped makes Validate skip the tests of Library and Rules, the
	// set built into the binary: they passed where the binary was built
	// (and `authz policy test` runs them), and they take about two seconds,
	// which a plugin start would add to the time dockerd refuses calls.
	// The tests of the Overrides always run.
	TrustShipped bool
	// TypeCheckedShipped says that Library and Rules are the set built
	// into the binary, whose rules were type-checked against the input
	// schema where it was built (`opa check --strict --schema` in CI, and
	// TestShippedSetTypeChecks). New and Load then skip that check when
	// there are no Overrides: about a seventh of compiling the set, which
	// every `authz check` pays at start-up. With Overrides the whole set
	// is checked: their rules are what the check is for. Validate always
	// checks.
	TypeCheckedShipped bool
	// Layers are laid over Rules after the embedded set and before the
	// Overrides, in order: the OPA bundles serve takes (see Layer).
	Layers []Layer
}

type fileKind int

const (
	kindModule fileKind = iota
	kindData
	// kindTest is a *_test.rego module: never compiled into the decision
	// query, only into the set Validate runs the tests of.
	kindTest
)

type file struct {
	name    string   // for messages: the origin and the relative path
	key     string   // the overlay key: "rego:" and the library path, or the relative path
	dataDir []string // for data: the data path, from the directory
	kind    fileKind
	content []byte
}

// collect reads every policy, data and test file in a stable order. Tests
// (*_test.rego) follow the same overlay rule as policies, so a directory
// that replaces a shipped rule file can replace its tests too; compile
// leaves them out of the decision query.
func (s Sources) collect() ([]file, error) {
	byPath := map[string]file{}
	if s.Library != nil {
		if err := addFS(byPath, "rego:", s.Library, "rego:"); err != nil {
			return nil, err
		}
	}
	if s.Rules != nil {
		if err := addFS(byPath, "embedded:", s.Rules, ""); err != nil {
			return nil, err
		}
	}
	for _, l := range s.Layers {
		if err := addLayer(byPath, l); err != nil {
			return nil, err
		}
	}
	for _, dir := range s.Overrides {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("--policy %s: %w", dir, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("policy directory %s is not a directory: pass the directory that holds the .rego files", dir)
		}
		if err := addFS(byPath, dir+string(os.PathSeparator), os.DirFS(dir), ""); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(byPath))
	for k := range byPath {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	files := make([]file, 0, len(keys))
	for _, k := range keys {
		files = append(files, byPath[k])
	}
	return files, nil
}

// schemas returns the library's schema set, schema.input from
// inputSchemaPath, so that compiling type-checks every rule's reads of
// input against it. It is nil when the library has no schema (a minimal
// library in tests): rules are then compiled untyped, as `opa test` does.
// Only the library's schema counts: an override directory cannot loosen
// it.
func (s Sources) schemas() (*ast.SchemaSet, error) {
	if s.Library == nil {
		return nil, nil
	}
	raw, err := fs.ReadFile(s.Library, inputSchemaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the input schema rego:%s: %w", inputSchemaPath, err)
	}
	var schema any
	if err := util.Unmarshal(raw, &schema); err != nil {
		return nil, fmt.Errorf("input schema rego:%s: %w", inputSchemaPath, err)
	}
	ss := ast.NewSchemaSet()
	ss.Put(ast.MustParseRef("schema.input"), schema)
	return ss, nil
}

// addFS adds the files of fsys under keyPrefix. The library gets its own
// key space ("rego:...") so that an override directory cannot shadow it by
// accident, while rule files share one so that overrides can replace them.
func addFS(byPath map[string]file, origin string, fsys fs.FS, keyPrefix string) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read policies %s%s: %w", origin, p, err)
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		var kind fileKind
		switch {
		case strings.HasSuffix(p, "_test.rego"):
			kind = kindTest
		case strings.HasSuffix(p, ".rego"):
			kind = kindModule
		case path.Base(p) == "data.json":
			kind = kindData
		default:
			return nil
		}
		content, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read policies %s%s: %w", origin, p, err)
		}
		f := file{name: origin + p, key: keyPrefix + p, kind: kind, content: content}
		if dir := path.Dir(p); dir != "." {
			f.dataDir = strings.Split(dir, "/")
		}
		byPath[keyPrefix+p] = f
		return nil
	})
}

// mergeData places a data.json document at its directory's path, as `opa
// test` and `opa eval -d` do, and refuses to merge two values into one key.
// The documents are decoded straight into Rego values (decodeDataValue),
// which the store keeps as they are; the maps above them stay Go maps, so
// that data files in nested directories merge into one tree.
func mergeData(root map[string]any, f file) error {
	doc, err := decodeDataValue(f.content)
	if err != nil {
		return fmt.Errorf("data file %s: %w", f.name, err)
	}
	obj, ok := doc.(ast.Object)
	if !ok {
		return fmt.Errorf("data file %s: %w", f.name, errNotObject)
	}
	node := root
	for _, k := range f.dataDir {
		next, ok := node[k].(map[string]any)
		if o, isObj := node[k].(ast.Object); isObj {
			// An object an earlier file set: open it for merging, as a
			// decoded Go map would have been.
			next, ok = objectMap(o), true
			node[k] = next
		}
		if !ok {
			if _, taken := node[k]; taken {
				return fmt.Errorf("data file %s: data.%s is already a value", f.name, strings.Join(f.dataDir, "."))
			}
			next = map[string]any{}
			node[k] = next
		}
		node = next
	}
	var clash error
	obj.Foreach(func(kt, v *ast.Term) {
		k := string(kt.Value.(ast.String))
		if _, taken := node[k]; taken && clash == nil {
			clash = fmt.Errorf("data file %s: key %q is defined twice", f.name, k)
		}
		node[k] = v.Value
	})
	return clash
}

// objectMap is o's members as a Go map of Rego values.
func objectMap(o ast.Object) map[string]any {
	m := make(map[string]any, o.Len())
	o.Foreach(func(k, v *ast.Term) { m[string(k.Value.(ast.String))] = v.Value })
	return m
}

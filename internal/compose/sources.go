package compose

import (
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/yamlnode"
)

// source is one compose file as compose-go reads it while loading a
// project: its YAML tree, the directory its relative `include` and
// `extends` paths are resolved from, the files it includes and the
// services it extends. Walking the sources before compose-go loads the
// project lets `authz check` refuse what compose-go must not open (it
// opens included and extended files itself) and point findings at the
// file a setting comes from.
type source struct {
	file       string
	root       *yaml.Node
	workingDir string
	// includes are the file's `include` entries, in order, each the
	// entry's files in order (the first, then its override files).
	includes [][]*source
	// extends maps a service of this file to the service it extends.
	extends map[string]extendsRef
}

// extendsRef is the service a service extends: in src, nil for the same
// file.
type extendsRef struct {
	src     *source
	service string
}

// sources are a project's compose files and what they include and extend.
type sources struct {
	top []*source // the project's compose files, in load order
	// extended are the files that `extends: {file: …}` names, by path,
	// parsed once.
	extended map[string]*source
}

// walker walks a project's compose files through their includes and
// extends.
type walker struct {
	s *sources
	// chain is the include chain being walked, to stop on a cycle
	// (compose-go reports it).
	chain map[string]bool
	// included are the files already walked as included, by path and
	// working directory: a file included along several paths (a diamond)
	// is walked once, however many.
	included map[[2]string]*source
}

// walkSources reads the project's compose files (files, absolute), what
// they include and what their services extend, with env for the
// interpolation of those paths, and refuses the first file that is not a
// regular file or is too large, and the first remote reference. Files
// that cannot be read or parsed are skipped: compose-go reports them
// with the message docker compose gives.
func walkSources(files []string, workingDir string, env types.Mapping) (*sources, error) {
	w := &walker{s: &sources{extended: map[string]*source{}}, chain: map[string]bool{}, included: map[[2]string]*source{}}
	for _, f := range files {
		if f == "-" {
			continue
		}
		if err := checkFile(f, "compose file"); err != nil {
			return nil, err
		}
		src, err := w.file(f, workingDir, env, true)
		if err != nil {
			return nil, err
		}
		if src != nil {
			w.s.top = append(w.s.top, src)
		}
	}
	return w.s, nil
}

// file parses one compose file (already checked) whose relative paths are
// resolved from workingDir, and walks its includes (when withIncludes:
// compose-go ignores `include` in an extended file) and extends.
func (w *walker) file(path, workingDir string, env types.Mapping, withIncludes bool) (*source, error) {
	key := [2]string{path, workingDir}
	if withIncludes {
		if src, ok := w.included[key]; ok {
			return src, nil
		}
	}
	b, err := readBounded(path)
	if err != nil {
		return nil, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Content) == 0 {
		return nil, nil
	}
	src := &source{file: path, root: doc.Content[0], workingDir: workingDir, extends: map[string]extendsRef{}}
	if withIncludes {
		if w.chain[path] {
			return src, nil
		}
		w.chain[path] = true
		defer delete(w.chain, path)
		w.included[key] = src
		if err := w.includes(src, env); err != nil {
			return nil, err
		}
	}
	if err := w.extendsOf(src, env); err != nil {
		return nil, err
	}
	return src, nil
}

// includes walks src's `include` entries: each is a path, or {path,
// project_directory, env_file} where path is one file or a list (the
// file and its overrides).
func (w *walker) includes(src *source, env types.Mapping) error {
	_, list := yamlnode.Lookup(src.root, "include")
	list = yamlnode.Resolve(list)
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	for _, entry := range list.Content {
		var paths, envFiles []string
		projectDir := ""
		entry = yamlnode.Resolve(entry)
		switch {
		case entry == nil:
			continue
		case entry.Kind == yaml.ScalarNode:
			paths = []string{entry.Value}
		case entry.Kind == yaml.MappingNode:
			_, p := yamlnode.Lookup(entry, "path")
			paths = scalars(p)
			_, d := yamlnode.Lookup(entry, "project_directory")
			if d = yamlnode.Resolve(d); d != nil && d.Kind == yaml.ScalarNode {
				projectDir = interpolate(d.Value, env)
			}
			_, e := yamlnode.Lookup(entry, "env_file")
			envFiles = scalars(e)
		}
		var abs []string
		for _, p := range paths {
			p = interpolate(p, env)
			if remoteKind(p) != "" {
				return &RemoteError{File: src.file, Key: "include", Ref: p}
			}
			a := resolve(src.workingDir, p)
			if err := checkFile(a, "included compose file"); err != nil {
				return err
			}
			abs = append(abs, a)
		}
		if len(abs) == 0 {
			continue
		}
		switch {
		case projectDir == "":
			projectDir = filepath.Dir(abs[0])
		default:
			projectDir = resolve(src.workingDir, projectDir)
		}
		var files []string
		for _, f := range envFiles {
			f = interpolate(f, env)
			if f == "/dev/null" {
				continue // compose-go's way to say "no env file"
			}
			files = append(files, resolve(src.workingDir, f))
		}
		if len(envFiles) == 0 {
			if st, err := os.Stat(filepath.Join(projectDir, ".env")); err == nil && !st.IsDir() {
				files = []string{filepath.Join(projectDir, ".env")}
			}
		}
		if err := checkFiles(files, "env file"); err != nil {
			return err
		}
		incEnv := env
		if vars, err := dotenv.GetEnvFromFile(env, files); err == nil {
			incEnv = env.Clone().Merge(vars)
		}
		var group []*source
		for _, a := range abs {
			inc, err := w.file(a, projectDir, incEnv, true)
			if err != nil {
				return err
			}
			if inc != nil {
				group = append(group, inc)
			}
		}
		src.includes = append(src.includes, group)
	}
	return nil
}

// extendsOf records what src's services extend and walks the files they
// extend, each once.
func (w *walker) extendsOf(src *source, env types.Mapping) error {
	_, services := yamlnode.Lookup(src.root, "services")
	services = yamlnode.Resolve(services)
	if services == nil || services.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(services.Content); i += 2 {
		name := services.Content[i].Value
		_, ext := yamlnode.Lookup(services.Content[i+1], "extends")
		ext = yamlnode.Resolve(ext)
		switch {
		case ext == nil:
			continue
		case ext.Kind == yaml.ScalarNode:
			src.extends[name] = extendsRef{service: interpolate(ext.Value, env)}
			continue
		case ext.Kind != yaml.MappingNode:
			continue
		}
		ref := extendsRef{}
		if _, s := yamlnode.Lookup(ext, "service"); yamlnode.Resolve(s) != nil {
			ref.service = interpolate(yamlnode.Resolve(s).Value, env)
		}
		_, f := yamlnode.Lookup(ext, "file")
		if f = yamlnode.Resolve(f); f != nil && f.Kind == yaml.ScalarNode {
			file := interpolate(f.Value, env)
			if remoteKind(file) != "" {
				return &RemoteError{File: src.file, Key: "extends", Ref: file}
			}
			abs := resolve(src.workingDir, file)
			if err := checkFile(abs, "extended compose file"); err != nil {
				return err
			}
			target, ok := w.s.extended[abs]
			if !ok {
				w.s.extended[abs] = nil // a cycle stops here; compose-go reports it
				var err error
				target, err = w.file(abs, filepath.Dir(abs), env, false)
				if err != nil {
					return err
				}
				w.s.extended[abs] = target
			}
			if target == nil {
				continue
			}
			ref.src = target
		}
		src.extends[name] = ref
	}
	return nil
}

// scalars is a scalar's value, or a sequence's scalar values.
func scalars(n *yaml.Node) []string {
	n = yamlnode.Resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			if c = yamlnode.Resolve(c); c != nil && c.Kind == yaml.ScalarNode {
				out = append(out, c.Value)
			}
		}
	}
	return out
}

// interpolate substitutes ${VAR} in s as compose-go does; s is kept as
// written when it does not interpolate (compose-go reports that).
func interpolate(s string, env types.Mapping) string {
	out, err := template.Substitute(s, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		return s
	}
	return out
}

// resolve makes p absolute from dir.
func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// layer is one definition of a service that contributes to the loaded
// service: its key and value in file.
type layer struct {
	file       string
	key, value *yaml.Node
}

type layerKey struct {
	src     *source
	service string
}

// layers are the definitions of service in the project, the one that
// wins first: the last compose file's, then what it extends, then what it
// includes, then the previous compose file's, and so on.
func (s *sources) layers(service string) []layer {
	seen := map[layerKey]bool{}
	var out []layer
	for i := len(s.top) - 1; i >= 0; i-- {
		out = append(out, s.top[i].layers(service, seen)...)
	}
	return out
}

func (src *source) layers(service string, seen map[layerKey]bool) []layer {
	if src == nil || seen[layerKey{src, service}] {
		return nil
	}
	seen[layerKey{src, service}] = true
	var out []layer
	_, services := yamlnode.Lookup(src.root, "services")
	if key, value := yamlnode.Lookup(services, service); key != nil {
		out = append(out, layer{file: src.file, key: key, value: value})
		if ref, ok := src.extends[service]; ok {
			target := ref.src
			if target == nil {
				target = src
			}
			out = append(out, target.layers(ref.service, seen)...)
		}
	}
	for i := len(src.includes) - 1; i >= 0; i-- {
		group := src.includes[i]
		for j := len(group) - 1; j >= 0; j-- {
			out = append(out, group[j].layers(service, seen)...)
		}
	}
	return out
}

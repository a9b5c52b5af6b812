package policy

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// LibraryDir is where a Layer, and a bundle `authz bundle build` writes,
// keeps the files of the shared library (rego/ in this repository): a
// path under it replaces or adds to the library, not the rule families.
const LibraryDir = "rego/"

// Layer is a policy set that does not come from a directory: the modules
// and data files of an OPA bundle. It is laid over the embedded set as a
// --policy directory is (a file with the same relative path replaces the
// shipped one, any other file is added), with one difference: a path under
// LibraryDir is the library's, so that a bundle carrying the whole set
// (library included, as `authz bundle build` writes it) replaces each
// shipped file instead of defining it twice. A layer without such paths
// leaves the shipped library as it is.
type Layer struct {
	// Origin prefixes the layer's file names in messages and in the
	// revision, such as "bundle:fleet/".
	Origin string
	// Files are the layer's files by slash-separated relative path. Only
	// *.rego and data.json files count, as in a directory; paths with a
	// hidden segment (.manifest, .signatures.json) are skipped.
	Files map[string][]byte
}

// addLayer adds l's files to byPath with the keys a directory's files
// would have.
func addLayer(byPath map[string]file, l Layer) error {
	paths := make([]string, 0, len(l.Files))
	for p := range l.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, raw := range paths {
		p := path.Clean(strings.TrimPrefix(raw, "/"))
		if p == "." || p == ".." || strings.HasPrefix(p, "../") {
			return fmt.Errorf("policy file %s%s: the path leaves the bundle", l.Origin, raw)
		}
		if hiddenSegment(p) {
			continue
		}
		kind, ok := kindOf(p)
		if !ok {
			continue
		}
		key, rel := p, p
		if lib, isLib := strings.CutPrefix(p, LibraryDir); isLib {
			key, rel = libraryOrigin+lib, lib
		}
		f := file{name: l.Origin + p, key: key, kind: kind, content: l.Files[raw]}
		if dir := path.Dir(rel); dir != "." {
			f.dataDir = strings.Split(dir, "/")
		}
		byPath[key] = f
	}
	return nil
}

// kindOf classifies a path as addFS does.
func kindOf(p string) (fileKind, bool) {
	switch {
	case strings.HasSuffix(p, "_test.rego"):
		return kindTest, true
	case strings.HasSuffix(p, ".rego"):
		return kindModule, true
	case path.Base(p) == "data.json":
		return kindData, true
	}
	return 0, false
}

// hiddenSegment reports whether a segment of p starts with a dot: addFS
// skips hidden directories, and bundles keep their metadata in dot files.
func hiddenSegment(p string) bool {
	for _, s := range strings.Split(p, "/") {
		if strings.HasPrefix(s, ".") {
			return true
		}
	}
	return false
}

// BundleFile is one file of a policy set as a bundle carries it.
type BundleFile struct {
	// Path is slash-separated and relative: the library's files under
	// LibraryDir, the others at their path in the rules or the
	// --policy directory that provided them.
	Path    string
	Content []byte
	// Test marks *_test.rego modules, Data data.json documents.
	Test, Data bool
}

// BundleFiles lists the files of the set src describes (the embedded
// set, its Layers and Overrides laid over it) at the paths a bundle
// carries them, so that the bundle laid over the embedded set again
// (Layer) is the same set. The order is stable.
func (s Sources) BundleFiles() ([]BundleFile, error) {
	files, err := s.collect()
	if err != nil {
		return nil, err
	}
	out := make([]BundleFile, 0, len(files))
	for _, f := range files {
		p := f.key
		if lib, ok := strings.CutPrefix(p, libraryOrigin); ok {
			p = LibraryDir + lib
		}
		out = append(out, BundleFile{Path: p, Content: f.content, Test: f.kind == kindTest, Data: f.kind == kindData})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

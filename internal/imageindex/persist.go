package imageindex

import (
	"path"
	"sort"
)

// ExecEntries returns the part of the index that program lookup needs:
// every directory and symlink, and every regular file or hardlink with an
// execute bit, keyed by absolute path. It is what a cache keeps of an image:
// a few thousand entries instead of every file, and LookPath and Resolve
// give the same answers for executables on an index rebuilt from it.
func (ix *Index) ExecEntries() map[string]Entry {
	out := map[string]Entry{}
	var visit func(p string, n *node)
	visit = func(p string, n *node) {
		switch n.Type {
		case TypeDir, TypeSymlink:
			out[p] = n.Entry
		case TypeRegular, TypeHardlink:
			if n.Mode&0o111 != 0 {
				out[p] = n.Entry
			}
		}
		for name, ch := range n.children {
			visit(path.Join(p, name), ch)
		}
	}
	visit("/", ix.root)
	return out
}

// FromEntries rebuilds an index from entries such as ExecEntries returns.
// Parents are added before children, so the order of the map does not
// matter.
func FromEntries(entries map[string]Entry) *Index {
	ix := &Index{root: &node{Entry: Entry{Type: TypeDir, Mode: 0o755}}}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		e := entries[p]
		p = path.Clean("/" + p)
		ix.add(record{path: p, typ: e.Type, mode: e.Mode, link: e.Link})
	}
	return ix
}

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
	f := ix.f
	var visit func(p string, i uint32)
	visit = func(p string, i uint32) {
		n := &f.nodes[i]
		switch n.typ {
		case TypeDir, TypeSymlink:
			out[p] = f.entry(i)
		case TypeRegular, TypeHardlink:
			if n.mode&0o111 != 0 {
				out[p] = f.entry(i)
			}
		}
		for c := n.first; c < n.first+n.count; c++ {
			visit(path.Join(p, f.name(c)), c)
		}
	}
	visit("/", 0)
	return out
}

// FromEntries rebuilds an index from entries such as ExecEntries returns.
// Parents are added before children, so the order of the map does not
// matter.
func FromEntries(entries map[string]Entry) *Index {
	t := newTree()
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		e := entries[p]
		p = path.Clean("/" + p)
		if e.Type == TypeHardlink {
			// Kept as it is, not linked again: its target need not be
			// among the entries.
			if p != "/" {
				t.mkdirs(path.Dir(p)).set(path.Base(p), &node{Entry: e})
			}
			continue
		}
		t.add(record{path: p, typ: e.Type, mode: e.Mode, uid: e.UID, gid: e.GID, link: e.Link})
	}
	return &Index{f: freeze(t.root)}
}

// Accounts returns what Build read of the image's /etc/passwd and
// /etc/group, which ExecEntries leaves out; a cache keeps it next to them.
func (ix *Index) Accounts() Accounts {
	a := ix.accounts
	a.Passwd, a.Group = clone(a.Passwd), clone(a.Group)
	return a
}

// WithAccounts returns a copy of ix that resolves user and group names
// with a, as Accounts returned it.
func (ix *Index) WithAccounts(a Accounts) *Index {
	c := *ix
	c.accounts = Accounts{Passwd: clone(a.Passwd), Group: clone(a.Group), Unknown: a.Unknown}
	return &c
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

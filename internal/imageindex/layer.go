package imageindex

import (
	"archive/tar"
	"io"
	"io/fs"
	"path"
	"strings"
)

// kinds of layer records beyond the Types: whiteouts are kept as records so
// they can be applied after the whole layer is known.
const (
	kindWhiteout Type = 100 + iota
	kindOpaque
)

// record is all Build keeps of one layer tar header.
type record struct {
	path string // cleaned, absolute
	typ  Type
	mode fs.FileMode
	link string
}

// layer is one parsed layer file of the export. err is kept rather than
// returned because the file may not be a layer at all (a legacy `json` or
// VERSION file); it only matters when the manifest names the file.
type layer struct {
	recs []record
	err  error
}

// readLayer keeps the headers of one layer tar; tar.Reader skips the bodies.
func (b *builder) readLayer(r io.Reader) ([]record, error) {
	tr := tar.NewReader(r)
	var recs []record
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, err
		}
		if err := b.count(); err != nil {
			return nil, err
		}
		if rec, ok := makeRecord(hdr); ok {
			recs = append(recs, rec)
		}
	}
}

// makeRecord turns a layer header into a record, recognizing the OCI
// whiteout names: ".wh.<name>" deletes <name> from the layers below,
// ".wh..wh..opq" hides everything below in its directory. Other ".wh..wh."
// names are AUFS bookkeeping and mean nothing to the merged tree.
func makeRecord(hdr *tar.Header) (record, bool) {
	p := path.Clean("/" + hdr.Name)
	base := path.Base(p)
	if strings.HasPrefix(base, ".wh.") {
		dir := path.Dir(p)
		switch {
		case base == ".wh..wh..opq":
			return record{path: dir, typ: kindOpaque}, true
		case strings.HasPrefix(base, ".wh..wh."):
			return record{}, false
		}
		target := base[len(".wh."):]
		if target == "." || target == ".." {
			return record{}, false
		}
		return record{path: path.Join(dir, target), typ: kindWhiteout}, true
	}
	rec := record{path: p, mode: fs.FileMode(hdr.Mode).Perm()}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
		rec.typ = TypeRegular
		if hdr.Typeflag == tar.TypeRegA && strings.HasSuffix(hdr.Name, "/") {
			rec.typ = TypeDir
		}
	case tar.TypeDir:
		rec.typ = TypeDir
	case tar.TypeSymlink:
		rec.typ = TypeSymlink
		rec.link = hdr.Linkname
	case tar.TypeLink:
		rec.typ = TypeHardlink
		rec.link = path.Clean("/" + hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		rec.typ = TypeOther
	default:
		return record{}, false
	}
	return rec, true
}

// apply stacks one layer on the tree. Whiteouts go first because they only
// hide what the layers below hold: a file the same layer adds next to an
// opaque marker stays.
func (ix *Index) apply(recs []record) {
	for _, r := range recs {
		switch r.typ {
		case kindWhiteout:
			if parent := ix.literal(path.Dir(r.path)); parent != nil && parent.children != nil {
				delete(parent.children, path.Base(r.path))
			}
		case kindOpaque:
			if dir := ix.literal(r.path); dir != nil && dir.Type == TypeDir {
				dir.children = nil
			}
		}
	}
	for _, r := range recs {
		if r.typ < kindWhiteout {
			ix.add(r)
		}
	}
}

// literal finds a path without following symlinks, as the layer's own paths
// are meant.
func (ix *Index) literal(p string) *node {
	n := ix.root
	for _, c := range strings.Split(p, "/") {
		if c == "" {
			continue
		}
		if n = n.children[c]; n == nil {
			return nil
		}
	}
	return n
}

// add puts one layer entry in the tree as extracting it would: missing
// parents appear as directories, a directory over a directory only changes
// its mode, anything else replaces what was there with its whole subtree.
func (ix *Index) add(r record) {
	if r.path == "/" {
		if r.typ == TypeDir {
			ix.root.Mode = r.mode
		}
		return
	}
	parts := strings.Split(r.path[1:], "/")
	cur := ix.root
	for _, c := range parts[:len(parts)-1] {
		ch := cur.children[c]
		if ch == nil || ch.Type != TypeDir {
			ch = &node{Entry: Entry{Type: TypeDir, Mode: 0o755}}
			cur.set(c, ch)
		}
		cur = ch
	}
	last := parts[len(parts)-1]
	if old := cur.children[last]; r.typ == TypeDir && old != nil && old.Type == TypeDir {
		old.Mode = r.mode
		return
	}
	cur.set(last, &node{Entry: Entry{Type: r.typ, Mode: r.mode, Link: r.link}})
}

func (n *node) set(name string, ch *node) {
	if n.children == nil {
		n.children = map[string]*node{}
	}
	n.children[name] = ch
}

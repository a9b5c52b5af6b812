package imageindex

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
	uid  uint32
	gid  uint32
	link string
	data []byte // the body of an account file, see accountFiles
}

// candidate is one reading of a layer file: decompressed as dockerd would
// decompress it, or as a plain tar. err is kept rather than returned
// because the reading may be the wrong one, and the file may not be a
// layer at all (a legacy `json` or VERSION file); it only matters when the
// manifest names the file and no other reading fits.
type candidate struct {
	comp   compression
	recs   []record
	err    error
	digest string // "sha256:<hex>" of the whole tar stream; "" unless err is nil
}

// layer is one file of the export read as a layer, in each way that
// applies: decompressed first when its first bytes name a compression,
// then as it is.
type layer struct {
	cands []candidate
}

// ok reports whether some reading of the file is a tar.
func (l *layer) ok() bool {
	for _, c := range l.cands {
		if c.err == nil {
			return true
		}
	}
	return false
}

// pick returns the reading whose digest is want, or, when want is "", the
// first reading that is a tar: the decompressed one, as dockerd's load
// would take it. The error says what each reading gave.
func (l *layer) pick(want string) (*candidate, error) {
	for i := range l.cands {
		if c := &l.cands[i]; c.err == nil && (want == "" || c.digest == want) {
			return c, nil
		}
	}
	var why []string
	for _, c := range l.cands {
		switch {
		case c.err != nil:
			why = append(why, c.err.Error())
		default:
			why = append(why, fmt.Sprintf("%s: digest %s", c.comp, c.digest))
		}
	}
	if want != "" {
		return nil, fmt.Errorf("no reading matches its diff ID %s (%s)", want, strings.Join(why, "; "))
	}
	return nil, errors.New(strings.Join(why, "; "))
}

// errReadingDone stops feeding a reading that has failed.
var errReadingDone = errors.New("imageindex: reading done")

// readCandidates reads one layer file from r in every way that applies, in
// a single pass: the stream cannot be rewound, and layers are too large to
// keep. When comp names a compression, the plain reading runs in a
// goroutine fed through a pipe with the same bytes the decompressor reads;
// a reading that fails stops being fed. The only error returned is one
// that ends Build: too many entries.
func (b *builder) readCandidates(r io.Reader, comp compression) (*layer, error) {
	if comp == compNone {
		c := b.readPlain(r)
		if errors.Is(c.err, ErrTooManyEntries) {
			return nil, c.err
		}
		return &layer{cands: []candidate{c}}, nil
	}
	pr, pw := io.Pipe()
	plain := make(chan candidate, 1)
	go func() {
		var c candidate
		defer func() {
			if p := recover(); p != nil {
				c = candidate{err: fmt.Errorf("plain tar: panic: %v", p)}
			}
			if c.err != nil {
				pr.CloseWithError(errReadingDone)
			} else {
				pr.Close()
			}
			plain <- c
		}()
		c = b.readPlain(pr)
	}()
	fan := &fanWriter{w: pw}
	raw := io.TeeReader(r, fan)
	dec := b.readCompressed(comp, raw)
	if !fan.gone {
		// The plain reading still reads: give it the rest of the file.
		if _, err := io.Copy(io.Discard, raw); err != nil {
			pw.CloseWithError(err)
		}
	}
	pw.Close()
	c := <-plain
	for _, c := range []candidate{dec, c} {
		if errors.Is(c.err, ErrTooManyEntries) {
			return nil, c.err
		}
	}
	return &layer{cands: []candidate{dec, c}}, nil
}

// fanWriter copies what the decompressor reads to the plain reading until
// that one stops; it never fails, so the decompressor never sees an error
// that is not its own.
type fanWriter struct {
	w    *io.PipeWriter
	gone bool
}

func (f *fanWriter) Write(p []byte) (int, error) {
	if !f.gone {
		if _, err := f.w.Write(p); err != nil {
			f.gone = true
		}
	}
	return len(p), nil
}

// readPlain reads r as a tar and digests all of it, the bytes after the
// end-of-archive blocks included, as the diff ID covers them.
func (b *builder) readPlain(r io.Reader) candidate {
	c := candidate{comp: compNone}
	h := sha256.New()
	tee := io.TeeReader(r, h)
	c.recs, c.err = b.readLayer(tee)
	if c.err == nil {
		_, c.err = io.Copy(io.Discard, tee)
	}
	if c.err != nil {
		return candidate{comp: compNone, err: fmt.Errorf("%s: %w", compNone, c.err)}
	}
	c.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return c
}

// readCompressed reads r through the decompressor comp names and digests
// the whole decompressed stream, as dockerd does to check the diff ID; a
// corrupt compressed stream fails here even past the tar's end.
func (b *builder) readCompressed(comp compression, r io.Reader) (c candidate) {
	defer func() {
		if p := recover(); p != nil {
			c = candidate{comp: comp, err: fmt.Errorf("%s: panic: %v", comp, p)}
		}
	}()
	c.comp = comp
	dr, release, err := b.decompressor(comp, r)
	if err != nil {
		return candidate{comp: comp, err: fmt.Errorf("%s: %w", comp, err)}
	}
	defer release()
	h := sha256.New()
	tee := io.TeeReader(dr, h)
	c.recs, c.err = b.readLayer(tee)
	if c.err == nil {
		_, c.err = io.Copy(io.Discard, tee)
	}
	if c.err != nil {
		return candidate{comp: comp, err: fmt.Errorf("%s: %w", comp, c.err)}
	}
	c.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return c
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
			if rec.typ == TypeRegular && accountFiles[rec.path] && hdr.Size <= maxAccountFile {
				data, err := readLimited(tr, maxAccountFile)
				if err != nil {
					return nil, err
				}
				rec.data = data
			}
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
	rec := record{path: p, mode: fs.FileMode(hdr.Mode).Perm(), uid: idOf(hdr.Uid), gid: idOf(hdr.Gid)}
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
//
// dockerd 20.10 on overlay2 unpacks a layer into an empty directory of its
// own (archive.Unpack, chrooted there, with the overlay whiteout format):
// a whiteout or opaque marker's missing parents are created there as real
// directories (MkdirAll, 0755), and in the merged tree a directory of an
// upper layer hides whatever a lower one has at that path, a symlink or a
// file included. So a marker under a path a lower layer made a symlink
// does not act through the symlink: it makes that path a directory, empty
// of the lower layers' entries.
func (t *tree) apply(recs []record) {
	for _, r := range recs {
		switch r.typ {
		case kindWhiteout:
			parent := t.mkdirs(path.Dir(r.path))
			delete(parent.children, path.Base(r.path))
		case kindOpaque:
			t.mkdirs(r.path).children = nil
		}
	}
	for _, r := range recs {
		if r.typ < kindWhiteout {
			t.add(r)
		}
	}
}

// add puts one layer entry in the tree as extracting it would: missing
// parents appear as directories, a directory over a directory only changes
// its mode, anything else replaces what was there with its whole subtree.
func (t *tree) add(r record) {
	if r.path == "/" {
		if r.typ == TypeDir {
			t.root.Mode, t.root.UID, t.root.GID = r.mode, r.uid, r.gid
		}
		return
	}
	cur := t.mkdirs(path.Dir(r.path))
	last := path.Base(r.path)
	if old := cur.children[last]; r.typ == TypeDir && old != nil && old.Type == TypeDir {
		old.Mode, old.UID, old.GID = r.mode, r.uid, r.gid
		return
	}
	if r.typ == TypeHardlink {
		// createTarFile: os.Link(target, path), which is linkat(2)
		// without AT_SYMLINK_FOLLOW: the new name is the target's inode,
		// whatever it is, a symlink or a FIFO included; then
		// handleLChmod gives that inode the header's mode unless it is a
		// symlink. A missing target (ENOENT) or a directory (EPERM) fails
		// the layer in dockerd: nothing is linked here.
		_, target, ok := walkIn[*node](t, r.link, false, nil)
		if !ok || target.Type == TypeDir {
			delete(cur.children, last)
			return
		}
		if target.Type != TypeSymlink {
			target.Mode = r.mode
		}
		// Then Lchown gives the inode, a symlink too, the header's owner.
		target.UID, target.GID = r.uid, r.gid
		cur.set(last, target)
		return
	}
	cur.set(last, &node{Entry: Entry{Type: r.typ, Mode: r.mode, UID: r.uid, GID: r.gid, Link: r.link}, data: r.data})
}

// mkdirs returns the directory at p, a literal path, making it and its
// parents directories where they are missing or are not directories, as
// unpacking a layer into its own directory does.
func (t *tree) mkdirs(p string) *node {
	cur := t.root
	for _, c := range strings.Split(p, "/") {
		if c == "" {
			continue
		}
		ch := cur.children[c]
		if ch == nil || ch.Type != TypeDir {
			ch = &node{Entry: Entry{Type: TypeDir, Mode: 0o755}}
			cur.set(c, ch)
		}
		cur = ch
	}
	return cur
}

// idOf is a header's uid or gid as the kernel keeps it; a negative one
// (which no real tar holds) is taken as the overflow id, nobody.
func idOf(id int) uint32 {
	if id < 0 || int64(id) > 0xffffffff {
		return 65534
	}
	return uint32(id)
}

func (n *node) set(name string, ch *node) {
	if n.children == nil {
		n.children = map[string]*node{}
	}
	n.children[name] = ch
}

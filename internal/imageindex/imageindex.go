// Package imageindex indexes the files of an image that matter for running a
// program in it: every path's type, permission bits and link target, after
// the image's layers are stacked. It reads the daemon's image export stream
// (GET /images/{name}/get, the `docker save` tar) once, in either layout
// dockerd writes, and never unpacks anything to disk or keeps file bodies:
// a policy decision needs "can the healthcheck's program run here", not the
// program itself.
package imageindex

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// DefaultMaxEntries bounds the tar entries Build reads when Options leaves
// MaxEntries unset. Large distribution images hold a few hundred thousand
// files; the bound only exists so a hostile export cannot exhaust memory.
const DefaultMaxEntries = 2_000_000

// maxJSON bounds manifest.json, index.json and each JSON blob kept for the
// OCI index fallback; real ones are a few kilobytes.
const maxJSON = 8 << 20

// maxBlobJSON bounds the JSON blobs kept in memory in total.
const maxBlobJSON = 32 << 20

// maxSymlinks is the kernel's limit on symlinks followed in one lookup
// (MAXSYMLINKS); beyond it open and execve fail with ELOOP.
const maxSymlinks = 40

// maxOuterLinks bounds the symlinks followed between layer files of the
// export itself (legacy `docker save` links duplicate layers).
const maxOuterLinks = 16

// ErrTooManyEntries is returned (wrapped) by Build when the export holds
// more tar entries than Options.MaxEntries allows.
var ErrTooManyEntries = errors.New("imageindex: too many tar entries")

// Options bounds the work Build does.
type Options struct {
	// MaxEntries is the most tar entries, outer and in all layers together,
	// that Build reads before failing with ErrTooManyEntries. Zero or
	// negative means DefaultMaxEntries.
	MaxEntries int
}

// Type is the kind of a file in the image.
type Type uint8

// The file types an Index distinguishes. Hardlinks are kept apart from
// regular files because that is what the layer says, but they run like
// regular files.
const (
	TypeRegular Type = iota + 1
	TypeDir
	TypeSymlink
	TypeHardlink
	// TypeOther is a device or FIFO: it occupies a path but never runs.
	TypeOther
)

// String names the type for messages.
func (t Type) String() string {
	switch t {
	case TypeRegular:
		return "regular"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	case TypeHardlink:
		return "hardlink"
	case TypeOther:
		return "other"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Entry is what the index keeps of one path.
type Entry struct {
	Type Type
	// Mode holds the permission bits (0o777) from the layer's header.
	Mode fs.FileMode
	// Link is a symlink's target as written in the layer, or a hardlink's
	// target as an absolute path in the image; empty otherwise.
	Link string
}

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

type node struct {
	Entry
	children map[string]*node
}

// Index is the merged file tree of an image. It is read-only after Build and
// safe for concurrent use.
type Index struct {
	root *node
}

// builder holds what Build has seen of the stream so far, since the
// manifest that orders the layers may come after them.
type builder struct {
	max      int
	entries  int
	manifest []byte
	index    []byte
	layers   map[string]*layer
	links    map[string]string // outer path -> outer path it links to
	blobs    map[string][]byte // "sha256:<hex>" -> JSON blob
	blobSize int
	br       *bufio.Reader
	zr       *gzip.Reader
}

// Build reads an image export stream (the `docker save` tar) once and
// returns the merged file index of the image it holds. It understands the
// legacy layout (manifest.json, <id>/layer.tar) and the OCI image layout
// (index.json, blobs/<alg>/<hex>, usually with manifest.json too), with
// plain or gzip-compressed layers. The stream must hold exactly one image.
func Build(r io.Reader, opts Options) (*Index, error) {
	b := &builder{
		max:    opts.MaxEntries,
		layers: map[string]*layer{},
		links:  map[string]string{},
		blobs:  map[string][]byte{},
		br:     bufio.NewReaderSize(nil, 64<<10),
	}
	if b.max <= 0 {
		b.max = DefaultMaxEntries
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("imageindex: reading export: %w", err)
		}
		if err := b.count(); err != nil {
			return nil, err
		}
		name := outerName(hdr.Name)
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			if path.IsAbs(hdr.Linkname) {
				b.links[name] = outerName(hdr.Linkname)
			} else {
				b.links[name] = outerName(path.Join(path.Dir(name), hdr.Linkname))
			}
		case tar.TypeLink:
			b.links[name] = outerName(hdr.Linkname)
		case tar.TypeReg, tar.TypeRegA:
			if err := b.file(name, hdr, tr); err != nil {
				return nil, err
			}
		}
	}
	paths, err := b.layerPaths()
	if err != nil {
		return nil, err
	}
	ix := &Index{root: &node{Entry: Entry{Type: TypeDir, Mode: 0o755}}}
	for _, p := range paths {
		l, err := b.lookup(p)
		if err != nil {
			return nil, err
		}
		ix.apply(l.recs)
	}
	return ix, nil
}

// count charges one tar entry against the bound.
func (b *builder) count() error {
	b.entries++
	if b.entries > b.max {
		return fmt.Errorf("%w: more than %d", ErrTooManyEntries, b.max)
	}
	return nil
}

// outerName normalizes a path inside the export so names written as
// "./x", "x" or "/x" meet, and ".." cannot climb out.
func outerName(n string) string {
	return path.Clean("/" + n)[1:]
}

// file handles one regular file of the export: the two indexes by name,
// everything else by its first bytes, since blob names say nothing about
// their content and layers may be compressed or not.
func (b *builder) file(name string, hdr *tar.Header, r io.Reader) error {
	switch name {
	case "manifest.json", "index.json":
		data, err := readLimited(r, maxJSON)
		if err != nil {
			return fmt.Errorf("imageindex: reading %s: %w", name, err)
		}
		if name == "manifest.json" {
			b.manifest = data
		} else {
			b.index = data
		}
		return nil
	case "oci-layout", "repositories":
		return nil
	}
	b.br.Reset(r)
	head, _ := b.br.Peek(512)
	var l layer
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		if b.zr == nil {
			b.zr = new(gzip.Reader)
		}
		if err := b.zr.Reset(b.br); err != nil {
			l.err = fmt.Errorf("gzip: %w", err)
		} else {
			l.recs, l.err = b.readLayer(b.zr)
		}
	case len(head) >= 4 && bytes.Equal(head[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		l.err = errors.New("zstd-compressed layers are not supported")
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		l.recs, l.err = b.readLayer(b.br)
	case looksJSON(head):
		if alg, hex, ok := blobName(name); ok && hdr.Size <= maxJSON && b.blobSize+int(hdr.Size) <= maxBlobJSON {
			data, err := readLimited(b.br, maxJSON)
			if err != nil {
				return fmt.Errorf("imageindex: reading %s: %w", name, err)
			}
			b.blobs[alg+":"+hex] = data
			b.blobSize += len(data)
		}
		return nil
	default:
		// An old tar without the ustar magic, an empty layer, or not a
		// tar at all: parse it and let the error speak if it is needed.
		l.recs, l.err = b.readLayer(b.br)
	}
	if errors.Is(l.err, ErrTooManyEntries) {
		return l.err
	}
	b.layers[name] = &l
	return nil
}

func looksJSON(head []byte) bool {
	s := bytes.TrimLeft(head, " \t\r\n")
	return len(s) > 0 && (s[0] == '{' || s[0] == '[')
}

// blobName splits "blobs/<alg>/<hex>".
func blobName(name string) (alg, hex string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[0] != "blobs" || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

func readLimited(r io.Reader, n int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > n {
		return nil, fmt.Errorf("larger than %d bytes", n)
	}
	return data, nil
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

// lookup finds a layer file named by a manifest, following the export's own
// symlinks: legacy `docker save` writes a layer once and links duplicates.
func (b *builder) lookup(p string) (*layer, error) {
	name := outerName(p)
	for i := 0; i <= maxOuterLinks; i++ {
		if l, ok := b.layers[name]; ok {
			if l.err != nil {
				return nil, fmt.Errorf("imageindex: layer %s: %w", p, l.err)
			}
			return l, nil
		}
		next, ok := b.links[name]
		if !ok {
			break
		}
		name = next
	}
	return nil, fmt.Errorf("imageindex: layer %s is not in the export", p)
}

// layerPaths returns the image's layer files, bottom first: from
// manifest.json, which both layouts dockerd writes carry, else from an OCI
// index.json for exports made by other tools.
func (b *builder) layerPaths() ([]string, error) {
	if b.manifest != nil {
		var m []struct{ Layers []string }
		if err := json.Unmarshal(b.manifest, &m); err != nil {
			return nil, fmt.Errorf("imageindex: manifest.json: %w", err)
		}
		if len(m) != 1 {
			return nil, fmt.Errorf("imageindex: manifest.json lists %d images, want 1", len(m))
		}
		return m[0].Layers, nil
	}
	if b.index != nil {
		return b.ociLayers()
	}
	return nil, errors.New("imageindex: no manifest.json or index.json in the export")
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type ociDoc struct {
	Manifests []descriptor `json:"manifests"`
	Layers    []descriptor `json:"layers"`
}

// ociLayers walks index.json to the one image manifest whose blob is in the
// export. Indexes may nest (an image index inside the layout's index) and
// may list platforms or attestations that were not exported: those are
// skipped, and more than one candidate is an error rather than a guess.
func (b *builder) ociLayers() ([]string, error) {
	var found [][]descriptor
	var walk func(data []byte, depth int) error
	walk = func(data []byte, depth int) error {
		var doc ociDoc
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		for _, d := range doc.Manifests {
			if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" ||
				(d.Platform != nil && d.Platform.OS == "unknown") {
				continue
			}
			blob, ok := b.blobs[d.Digest]
			if !ok {
				continue
			}
			var sub ociDoc
			if err := json.Unmarshal(blob, &sub); err != nil {
				return fmt.Errorf("blob %s: %w", d.Digest, err)
			}
			switch {
			case sub.Manifests != nil:
				if depth >= 4 {
					return errors.New("indexes nested too deep")
				}
				if err := walk(blob, depth+1); err != nil {
					return err
				}
			case sub.Layers != nil:
				found = append(found, sub.Layers)
			}
		}
		return nil
	}
	if err := walk(b.index, 0); err != nil {
		return nil, fmt.Errorf("imageindex: index.json: %w", err)
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("imageindex: index.json leads to %d image manifests in the export, want 1", len(found))
	}
	var paths []string
	for _, l := range found[0] {
		alg, hex, ok := strings.Cut(l.Digest, ":")
		if !ok || alg == "" || hex == "" || strings.Contains(l.Digest, "/") {
			return nil, fmt.Errorf("imageindex: index.json: bad layer digest %q", l.Digest)
		}
		paths = append(paths, "blobs/"+alg+"/"+hex)
	}
	return paths, nil
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

// Len returns the number of paths in the merged image, the root included.
func (ix *Index) Len() int {
	count := 0
	stack := []*node{ix.root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		count++
		for _, ch := range n.children {
			stack = append(stack, ch)
		}
	}
	return count
}

// walk resolves p from the image root the way the kernel's path lookup
// does: symlinks are followed in every component (and in the last one when
// followFinal), absolute targets restart at the image root, relative ones
// continue from the link's directory, ".." is taken on the resolved
// directory and stops at the root, and more than maxSymlinks links fail as
// ELOOP would. A trailing slash or "." demands a directory.
func (ix *Index) walk(p string, followFinal bool) (string, *node, bool) {
	names := make([]string, 0, 8)
	nodes := append(make([]*node, 0, 8), ix.root)
	rest := p
	links := 0
	for rest != "" {
		var c string
		if rest[0] == '/' {
			rest = strings.TrimLeft(rest, "/")
			if rest == "" {
				c = "."
			} else {
				continue
			}
		} else if i := strings.IndexByte(rest, '/'); i < 0 {
			c, rest = rest, ""
		} else {
			c, rest = rest[:i], rest[i:]
		}
		dir := nodes[len(nodes)-1]
		if dir.Type != TypeDir {
			return "", nil, false
		}
		switch c {
		case ".":
			continue
		case "..":
			if len(names) > 0 {
				names = names[:len(names)-1]
				nodes = nodes[:len(nodes)-1]
			}
			continue
		}
		ch := dir.children[c]
		if ch == nil {
			return "", nil, false
		}
		if ch.Type == TypeSymlink && (followFinal || rest != "") {
			links++
			if links > maxSymlinks || ch.Link == "" {
				return "", nil, false
			}
			if ch.Link[0] == '/' {
				names = names[:0]
				nodes = nodes[:1]
			}
			rest = ch.Link + rest
			continue
		}
		names = append(names, c)
		nodes = append(nodes, ch)
	}
	return "/" + strings.Join(names, "/"), nodes[len(nodes)-1], true
}

// Resolve follows p from the image root as the kernel would inside the
// container and returns the path of the file it ends at, which is not a
// symlink. Relative paths start at the root. ok is false when p does not
// exist, ends at a dangling link, loops (more than 40 links) or walks
// through a non-directory.
func (ix *Index) Resolve(p string) (final string, ok bool) {
	final, _, ok = ix.walk(p, true)
	return final, ok
}

// Lstat returns the entry at p without following a symlink in the last
// component (the others are followed), as lstat(2) does.
func (ix *Index) Lstat(p string) (Entry, bool) {
	_, n, ok := ix.walk(p, false)
	if !ok {
		return Entry{}, false
	}
	return n.Entry, true
}

// Stat returns the entry p resolves to, following every symlink, as
// stat(2) does; it is never a symlink.
func (ix *Index) Stat(p string) (Entry, bool) {
	_, n, ok := ix.walk(p, true)
	if !ok {
		return Entry{}, false
	}
	return n.Entry, true
}

// LookPath finds the program a container would run for name, as runc does
// with Go's exec.LookPath inside the container: a name containing "/" is
// taken as a path (relative names from "/", the default working directory),
// any other is searched in the dirs of PATH in order (empty and relative
// dirs also from "/"). The candidate must resolve to a regular file or
// hardlink with an execute bit, which is what execve needs as root. found is
// the path as exec would be given it, before symlinks are resolved.
func (ix *Index) LookPath(name string, dirs []string) (found string, ok bool) {
	if name == "" {
		return "", false
	}
	if strings.Contains(name, "/") {
		p := path.Join("/", name)
		if ix.executable(p) {
			return p, true
		}
		return "", false
	}
	for _, d := range dirs {
		p := path.Join("/", d, name)
		if ix.executable(p) {
			return p, true
		}
	}
	return "", false
}

func (ix *Index) executable(p string) bool {
	_, n, ok := ix.walk(p, true)
	return ok && (n.Type == TypeRegular || n.Type == TypeHardlink) && n.Mode&0o111 != 0
}

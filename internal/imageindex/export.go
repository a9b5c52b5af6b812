package imageindex

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"sync/atomic"
)

// DefaultMaxEntries bounds the tar entries Build reads when Options leaves
// MaxEntries unset. Large distribution images hold a few hundred thousand
// files; the bound only exists so a hostile export cannot exhaust memory.
const DefaultMaxEntries = 2_000_000

// ErrTooManyEntries is returned (wrapped) by Build when the export holds
// more tar entries than Options.MaxEntries allows.
var ErrTooManyEntries = errors.New("imageindex: too many tar entries")

// Options bounds and checks the work Build does.
type Options struct {
	// MaxEntries is the most tar entries, outer and in all layers together
	// (every reading of a layer counts), that Build reads before failing
	// with ErrTooManyEntries. Zero or negative means DefaultMaxEntries.
	MaxEntries int
	// VerifyDiffIDs makes Build require the image's config in the export
	// and every layer to match its diff ID, as dockerd requires when it
	// loads an image. Exports from dockerd always carry the config, so
	// imagescan sets it. Without it, the diff IDs are checked when the
	// config lists one per layer, and otherwise a layer that reads both
	// decompressed and as a plain tar is taken decompressed, as dockerd's
	// load would take it.
	VerifyDiffIDs bool
}

// maxJSON bounds manifest.json, index.json and each JSON file kept for the
// configs and OCI manifests; real ones are a few kilobytes.
const maxJSON = 8 << 20

// maxBlobJSON bounds the JSON files kept in memory in total.
const maxBlobJSON = 32 << 20

// maxOuterLinks bounds the symlinks followed between layer files of the
// export itself (legacy `docker save` links duplicate layers).
const maxOuterLinks = 16

// builder holds what Build has seen of the stream so far, since the
// manifest that orders the layers, and the config that names their
// digests, may come after them.
type builder struct {
	max      int64
	entries  atomic.Int64 // two readings of one layer count at once
	manifest []byte
	index    []byte
	layers   map[string]*layer
	links    map[string]string // outer path -> outer path it links to
	json     map[string][]byte // outer path -> a JSON file (config, OCI manifest)
	jsonSize int
	br       *bufio.Reader
	zr       *gzip.Reader
}

// Build reads an image export stream (the `docker save` tar) once and
// returns the merged file index of the image it holds. It understands the
// legacy layout (manifest.json, <id>/layer.tar) and the OCI image layout
// (index.json, blobs/<alg>/<hex>, usually with manifest.json too), with
// layers plain or compressed as dockerd accepts them (gzip, zstd, bzip2).
// The stream must hold exactly one image.
//
// A layer file is read both as dockerd's DecompressStream would read it
// and as a plain tar, in one pass, and the reading whose digest is the
// layer's diff ID is the one indexed: the bytes of a plain tar can also be
// a valid compressed stream (a first file name that starts with the gzip
// magic, or a crafted polyglot), and only the diff ID says which one the
// daemon unpacked.
func Build(r io.Reader, opts Options) (*Index, error) {
	b := &builder{
		max:    int64(opts.MaxEntries),
		layers: map[string]*layer{},
		links:  map[string]string{},
		json:   map[string][]byte{},
		br:     bufio.NewReaderSize(nil, 64<<10),
		zr:     new(gzip.Reader),
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
	img, err := b.image()
	if err != nil {
		return nil, err
	}
	diffIDs, err := b.diffIDs(img, opts.VerifyDiffIDs)
	if err != nil {
		return nil, err
	}
	ix := &Index{}
	t := newTree()
	for i, p := range img.layers {
		want := ""
		if diffIDs != nil {
			want = diffIDs[i]
		}
		c, err := b.layerFile(p, want)
		if err != nil {
			return nil, fmt.Errorf("imageindex: layer %d of %d (%s): %w", i+1, len(img.layers), p, err)
		}
		t.apply(c.recs)
		ix.diffIDs = append(ix.diffIDs, c.digest)
	}
	ix.accounts = t.accounts()
	ix.f = freeze(t.root)
	return ix, nil
}

// count charges one tar entry against the bound.
func (b *builder) count() error {
	if n := b.entries.Add(1); n > b.max {
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
// everything else by its content, since blob names say nothing about it
// and a layer's first bytes may look like JSON or a compression magic.
// Every other file is read as a layer; JSON files are kept too, for the
// config and the OCI manifests.
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
	var src io.Reader = b.br
	kept := false
	if looksJSON(head) && hdr.Size <= maxJSON && b.jsonSize+int(hdr.Size) <= maxBlobJSON {
		data, err := readLimited(b.br, maxJSON)
		if err != nil {
			return fmt.Errorf("imageindex: reading %s: %w", name, err)
		}
		b.json[name] = data
		b.jsonSize += len(data)
		src, kept = bytes.NewReader(data), true
	}
	l, err := b.readCandidates(src, detectCompression(head))
	if err != nil {
		return err
	}
	if kept && l.ok() {
		// A layer whose first file name starts with "{": no JSON file
		// reads as a tar, so it is not one, and not worth its room.
		b.jsonSize -= len(b.json[name])
		delete(b.json, name)
	}
	b.layers[name] = l
	return nil
}

func looksJSON(head []byte) bool {
	s := bytes.TrimLeft(head, " \t\r\n")
	return len(s) > 0 && (s[0] == '{' || s[0] == '[')
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

// layerFile finds a layer file named by a manifest, following the export's
// own symlinks (legacy `docker save` writes a layer once and links
// duplicates), and picks its reading: the one whose digest is want, or
// without want the first that read.
func (b *builder) layerFile(p, want string) (*candidate, error) {
	name := outerName(p)
	for i := 0; i <= maxOuterLinks; i++ {
		if l, ok := b.layers[name]; ok {
			return l.pick(want)
		}
		next, ok := b.links[name]
		if !ok {
			break
		}
		name = next
	}
	return nil, errors.New("not in the export")
}

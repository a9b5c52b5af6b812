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
	"strings"
)

// DefaultMaxEntries bounds the tar entries Build reads when Options leaves
// MaxEntries unset. Large distribution images hold a few hundred thousand
// files; the bound only exists so a hostile export cannot exhaust memory.
const DefaultMaxEntries = 2_000_000

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

// maxJSON bounds manifest.json, index.json and each JSON blob kept for the
// OCI index fallback; real ones are a few kilobytes.
const maxJSON = 8 << 20

// maxBlobJSON bounds the JSON blobs kept in memory in total.
const maxBlobJSON = 32 << 20

// maxOuterLinks bounds the symlinks followed between layer files of the
// export itself (legacy `docker save` links duplicate layers).
const maxOuterLinks = 16

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
		l, err := b.layerFile(p)
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

// layerFile finds a layer file named by a manifest, following the export's
// own symlinks: legacy `docker save` writes a layer once and links
// duplicates.
func (b *builder) layerFile(p string) (*layer, error) {
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

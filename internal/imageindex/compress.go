package imageindex

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"io"

	"github.com/klauspost/compress/zstd"
)

// compression is what dockerd would decompress a layer file with, judged
// from its first bytes alone: neither layout says it (legacy manifests name
// files, and media types are not what dockerd looks at when it loads).
type compression uint8

const (
	compNone compression = iota
	compBzip2
	compGzip
	compXz
	compZstd
)

func (c compression) String() string {
	switch c {
	case compBzip2:
		return "bzip2"
	case compGzip:
		return "gzip"
	case compXz:
		return "xz"
	case compZstd:
		return "zstd"
	}
	return "plain tar"
}

// The magic numbers are dockerd's, byte for byte: moby 20.10's
// pkg/archive.DetectCompression and current moby's
// github.com/moby/go-archive/compression.Detect. The gzip magic includes the
// deflate method byte (1f 8b 08): a plain tar whose first file name merely
// starts with 1f 8b is a plain tar to dockerd, and so it is here.
var (
	bzip2Magic = []byte{0x42, 0x5A, 0x68}
	gzipMagic  = []byte{0x1F, 0x8B, 0x08}
	xzMagic    = []byte{0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00}
	zstdMagic  = []byte{0x28, 0xB5, 0x2F, 0xFD}
)

// zstd skippable frames start with a magic from 0x184D2A50 to 0x184D2A5F
// (RFC 8878, section 3.1.2); current dockerd counts them as zstd.
const (
	zstdSkippableStart = 0x184D2A50
	zstdSkippableMask  = 0xFFFFFFF0
)

// detectCompression names the decompressor dockerd's DecompressStream
// picks for a stream that starts with head. 20.10 knows no zstd and reads
// such a stream as a plain tar; Build reads every layer both ways anyway
// (see readCandidates), so one detector serves both daemons.
func detectCompression(head []byte) compression {
	switch {
	case bytes.HasPrefix(head, bzip2Magic):
		return compBzip2
	case bytes.HasPrefix(head, gzipMagic):
		return compGzip
	case bytes.HasPrefix(head, xzMagic):
		return compXz
	case bytes.HasPrefix(head, zstdMagic):
		return compZstd
	case len(head) >= 8 && binary.LittleEndian.Uint32(head[:4])&zstdSkippableMask == zstdSkippableStart:
		return compZstd
	}
	return compNone
}

// maxZstdWindow bounds the memory one zstd frame may ask for. 128 MiB
// covers every standard level (--ultra -22 and --long=27 included); the
// decoder's own default (512 MiB) is more than a hostile layer deserves.
const maxZstdWindow = 128 << 20

// errXz: dockerd pipes xz layers through the xz(1) program, and the
// module graph has no xz decoder. No dockerd writes one into an export
// (20.10 stores and exports layers uncompressed; the containerd store keeps
// gzip and zstd blobs only), so this only meets hand-made exports.
var errXz = errors.New("xz-compressed layers are not supported")

// decompressor returns a reader of what c decompresses r into, and what
// releases it.
func (b *builder) decompressor(c compression, r io.Reader) (io.Reader, func(), error) {
	switch c {
	case compGzip:
		// Multistream, as dockerd's gzip.NewReader and unpigz read it.
		if err := b.zr.Reset(r); err != nil {
			return nil, nil, err
		}
		return b.zr, func() {}, nil
	case compBzip2:
		return bzip2.NewReader(r), func() {}, nil
	case compZstd:
		d, err := zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1), // no goroutines of its own
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	case compXz:
		return nil, nil, errXz
	}
	return r, func() {}, nil
}

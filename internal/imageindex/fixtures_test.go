package imageindex

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// file is one entry of a test layer.
type file struct {
	name string
	typ  byte
	mode int64
	link string
	body string
	uid  int
	gid  int
}

func reg(name string, mode int64) file {
	return file{name: name, typ: tar.TypeReg, mode: mode, body: "#!" + name}
}
func dir(name string) file { return file{name: name, typ: tar.TypeDir, mode: 0o755} }
func sym(name, target string) file {
	return file{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hard(name, target string, m int64) file {
	return file{name: name, typ: tar.TypeLink, mode: m, link: target}
}
func wh(name string) file { return file{name: name, typ: tar.TypeReg, mode: 0o644} }

func tarOf(t testing.TB, files []file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: f.typ, Mode: f.mode, Linkname: f.link, Uid: f.uid, Gid: f.gid}
		if f.typ == tar.TypeReg {
			h.Size = int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if f.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// polyglot returns a file that is two layers at once: a plain tar holding
// plainFiles, whose first file's name is the start of a gzip header, and a
// gzip stream of a tar holding gzipFiles. The gzip header's extra field
// (FEXTRA) spans the whole plain tar, end-of-archive blocks included, and
// the deflate stream and the gzip trailer follow them, where a tar reader
// no longer looks. dockerd, which stores and exports layers uncompressed,
// unpacks the plain tar; a reader that trusts the magic sees the other.
func polyglot(t testing.TB, plainFiles, gzipFiles []file) []byte {
	t.Helper()
	// The first name: the gzip header (ID1 ID2 CM=8 FLG=FEXTRA, MTIME,
	// XFL, OS) and XLEN, which depends on the plain tar's length and not
	// on the name's bytes: written twice.
	first := func(xlen int) file {
		name := []byte{0x1f, 0x8b, 0x08, 0x04, 'A', 'A', 'A', 'A', 'A', 'A', 0, 0}
		binary.LittleEndian.PutUint16(name[10:], uint16(xlen))
		return file{name: string(name) + "-x", typ: tar.TypeReg, mode: 0o644}
	}
	gnuTar := func(files []file) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, f := range files {
			h := &tar.Header{Name: f.name, Typeflag: f.typ, Mode: f.mode, Linkname: f.link, Format: tar.FormatGNU}
			if f.typ == tar.TypeReg {
				h.Size = int64(len(f.body))
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write([]byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	plain := gnuTar(append([]file{first(0x4141)}, plainFiles...))
	plain = gnuTar(append([]file{first(len(plain) - 12)}, plainFiles...))
	if len(plain) > 0xffff+12 || plain[3] != 0x04 || bytes.IndexByte(plain[:12], 0) >= 0 {
		t.Fatalf("polyglot: plain tar of %d bytes, header % x", len(plain), plain[:12])
	}
	inner := tarOf(t, gzipFiles)
	var def bytes.Buffer
	fw, _ := flate.NewWriter(&def, flate.DefaultCompression)
	fw.Write(inner)
	fw.Close()
	out := append(plain, def.Bytes()...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(inner))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(inner)))
	return out
}

// outer is one entry of a test export: a file with data, or a symlink.
type outer struct {
	name string
	data []byte
	link string
}

func exportOf(t testing.TB, entries []outer) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.data))}
		if e.link != "" {
			h = &tar.Header{Name: e.name, Typeflag: tar.TypeSymlink, Mode: 0o777, Linkname: e.link}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.link == "" {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// diffID is the digest of a test layer uncompressed, as dockerd computes
// it: a layer that starts with a compression magic and decompresses is
// digested decompressed, anything else as it is.
func diffID(t testing.TB, layer []byte) string {
	t.Helper()
	if plain, err := decompressed(layer); err == nil {
		layer = plain
	}
	return "sha256:" + hexDigest(layer)
}

func decompressed(layer []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case bytes.HasPrefix(layer, gzipMagic):
		zr, err := gzip.NewReader(bytes.NewReader(layer))
		if err != nil {
			return nil, err
		}
		r = zr
	case bytes.HasPrefix(layer, zstdMagic):
		zr, err := zstd.NewReader(bytes.NewReader(layer))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(layer, bzip2Magic):
		r = bzip2.NewReader(bytes.NewReader(layer))
	default:
		return nil, errors.New("not compressed")
	}
	return io.ReadAll(r)
}

func hexDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// configOf is an image config listing the diff IDs of layers.
func configOf(t testing.TB, layers [][]byte) []byte {
	t.Helper()
	ids := []string{}
	for _, l := range layers {
		ids = append(ids, diffID(t, l))
	}
	return mustJSON(t, map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// legacyExport writes layers as dockerd 20.10's `docker save` does.
func legacyExport(t testing.TB, layers [][]byte, manifestFirst bool) []byte {
	t.Helper()
	var entries []outer
	var paths []string
	for i, l := range layers {
		id := fmt.Sprintf("%064x", i+1)
		paths = append(paths, id+"/layer.tar")
		entries = append(entries,
			outer{name: id + "/VERSION", data: []byte("1.0")},
			outer{name: id + "/json", data: []byte(`{"id":"` + id + `"}`)},
			outer{name: id + "/layer.tar", data: l})
	}
	cfg := configOf(t, layers)
	config := outer{name: hexDigest(cfg) + ".json", data: cfg}
	manifest := outer{name: "manifest.json", data: mustJSON(t, []map[string]any{{
		"Config": config.name, "RepoTags": []string{"x:latest"}, "Layers": paths}})}
	entries = append(entries, config, outer{name: "repositories", data: []byte(`{}`)})
	if manifestFirst {
		entries = append([]outer{manifest}, entries...)
	} else {
		entries = append(entries, manifest)
	}
	return exportOf(t, entries)
}

// ociExport writes layers as dockerd 25+ does: an OCI layout whose
// manifest.json names the blobs. withManifest false leaves only index.json,
// as other tools write it.
func ociExport(t testing.TB, layers [][]byte, manifestFirst, withManifest bool) []byte {
	t.Helper()
	blob := func(b []byte) (string, outer) {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		return "sha256:" + h, outer{name: "blobs/sha256/" + h, data: b}
	}
	var entries []outer
	var descs []map[string]any
	var paths []string
	for _, l := range layers {
		d, e := blob(l)
		entries = append(entries, e)
		paths = append(paths, e.name)
		descs = append(descs, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": len(l)})
	}
	cd, ce := blob(configOf(t, layers))
	md, me := blob(mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd},
		"layers": descs}))
	// An attestation manifest, as buildx adds, must not count as an image.
	ad, ae := blob(mustJSON(t, map[string]any{"schemaVersion": 2, "layers": []any{}}))
	id, ie := blob(mustJSON(t, map[string]any{"schemaVersion": 2, "manifests": []any{
		map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
			"platform": map[string]string{"os": "linux", "architecture": "amd64"}},
		map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ad,
			"annotations": map[string]string{"vnd.docker.reference.type": "attestation-manifest"}},
		map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + strings.Repeat("0", 64),
			"platform": map[string]string{"os": "linux", "architecture": "arm64"}},
	}}))
	entries = append(entries, ce, me, ae, ie,
		outer{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		outer{name: "index.json", data: mustJSON(t, map[string]any{"schemaVersion": 2, "manifests": []any{
			map[string]any{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": id}}})})
	if withManifest {
		manifest := outer{name: "manifest.json", data: mustJSON(t, []map[string]any{{
			"Config": ce.name, "RepoTags": []string{"x:latest"}, "Layers": paths}})}
		if manifestFirst {
			entries = append([]outer{manifest}, entries...)
		} else {
			entries = append(entries, manifest)
		}
	}
	return exportOf(t, entries)
}

// baseLayer is a merged-usr Debian-like root with the links the tests walk.
func baseLayer(t testing.TB) []byte {
	files := []file{
		dir("./"), sym("bin", "usr/bin"), sym("sbin", "usr/sbin"), sym("lib", "usr/lib"),
		dir("usr/"), dir("usr/bin/"), dir("usr/sbin/"), dir("usr/lib/"), dir("usr/only/"),
		reg("usr/bin/dash", 0o755), sym("usr/bin/sh", "dash"),
		reg("usr/bin/readme", 0o644), hard("usr/bin/hard", "usr/bin/dash", 0o755),
		reg("usr/bin/setuid-only-user-x", 0o4100),
		dir("etc/"), dir("etc/alternatives/"), sym("etc/alternatives/awk", "/usr/bin/mawk"),
		sym("usr/bin/awk", "/etc/alternatives/awk"),
		sym("etc/esc", "/../../usr/bin/dash"), sym("escape", "../../../../usr/bin/dash"),
		sym("usr/lib/up", "../../../../../bin/sh"),
		sym("loop/a", "b"), sym("loop/b", "a"), sym("self", "self"), sym("empty", ""),
		reg("opt/tools/bin/tool", 0o750),
		reg("var/data/x", 0o755), reg("var/data/keep", 0o644),
		reg("srv/d/child", 0o755),
		{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
	}
	// c0 -> c1 -> … -> c40 -> end: 41 links from c0, 40 from c1.
	for i := 0; i <= 40; i++ {
		target := fmt.Sprintf("c%d", i+1)
		if i == 40 {
			target = "end"
		}
		files = append(files, sym(fmt.Sprintf("chain/c%d", i), target))
	}
	files = append(files, reg("chain/end", 0o755))
	return tarOf(t, files)
}

// upperLayer deletes /usr/bin/sh (so /bin/sh), makes /var/data opaque,
// deletes the /opt/tools subtree and replaces the /srv/d directory.
func upperLayer(t testing.TB) []byte {
	return tarOf(t, []file{
		dir("usr/bin/"), wh("usr/bin/.wh.sh"),
		dir("var/data/"), reg("var/data/new", 0o755), wh("var/data/.wh..wh..opq"),
		dir("opt/"), wh("opt/.wh.tools"),
		reg("srv/d", 0o644),
		reg("fresh/sub/prog", 0o755),
		wh("usr/.wh..wh.plnk"),
	})
}

// debianLayers is a non-merged-usr root whose second layer deletes the real
// /bin/sh with a whiteout.
func debianLayers(t testing.TB) [][]byte {
	return [][]byte{
		tarOf(t, []file{dir("bin/"), reg("bin/dash", 0o755), sym("bin/sh", "dash"), reg("bin/ls", 0o755)}),
		tarOf(t, []file{wh("bin/.wh.sh")}),
	}
}

// build indexes an export as imagescan does: every layer checked against
// its diff ID.
func build(t testing.TB, export []byte) *Index {
	t.Helper()
	ix, err := Build(bytes.NewReader(export), Options{VerifyDiffIDs: true})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return ix
}

var defaultPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// syntheticImage is a 20k-entry, two-layer export like a small distribution.
func syntheticImage(b *testing.B) []byte {
	var lower, upper []file
	lower = append(lower, sym("bin", "usr/bin"), reg("usr/bin/dash", 0o755), sym("usr/bin/sh", "dash"))
	for d := 0; d < 200; d++ {
		lower = append(lower, dir(fmt.Sprintf("usr/share/pkg%d/", d)))
		for f := 0; f < 74; f++ {
			lower = append(lower, file{name: fmt.Sprintf("usr/share/pkg%d/file%d", d, f), typ: tar.TypeReg, mode: 0o644, body: strings.Repeat("x", 300)})
		}
	}
	for f := 0; f < 5000; f++ {
		upper = append(upper, reg(fmt.Sprintf("usr/bin/tool%d", f), 0o755))
	}
	upper = append(upper, wh("usr/share/pkg3/.wh..wh..opq"), wh("usr/share/.wh.pkg4"))
	return ociExport(b, [][]byte{tarOf(b, lower), gz(b, tarOf(b, upper))}, false, true)
}

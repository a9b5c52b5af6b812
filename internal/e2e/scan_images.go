//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"runtime"
)

// The crafted images of the scanner scenarios are written by hand in the
// legacy `docker save` layout that dockerd 20.10 loads (manifest.json, the
// config as <id>.json, one layer.tar per layer), because only a hand-made
// layer can start with whatever bytes a test needs: dockerd keeps a loaded
// layer byte for byte and exports it so again.

// TarEntry is one entry of a crafted layer.
type TarEntry struct {
	Name string
	Type byte // tar.TypeReg, tar.TypeDir, tar.TypeSymlink
	Mode int64
	Link string
	Body string
}

// CraftedTar writes entries as a GNU tar, the only tar format that takes
// any bytes in a name as they are (USTAR refuses them, and PAX would put a
// header of its own first).
func CraftedTar(entries []TarEntry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Link, Format: tar.FormatGNU}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(e.Body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PolyglotLayer returns bytes that are two layers at once: a plain tar of
// plain, whose first file's name is the start of a gzip header, and a gzip
// stream of a tar of gzipped. The gzip header's extra field (FEXTRA) spans
// the whole plain tar, end-of-archive blocks included, and the deflate
// stream and the gzip trailer follow them, where a tar reader no longer
// looks. Loaded (itself gzip-compressed) into dockerd, it is a layer whose
// files are plain's; a scanner that trusts the gzip magic of the exported
// layer sees gzipped's instead.
func PolyglotLayer(plain, gzipped []TarEntry) ([]byte, error) {
	first := func(xlen int) TarEntry {
		name := []byte{0x1f, 0x8b, 0x08, 0x04, 'A', 'A', 'A', 'A', 'A', 'A', 0, 0}
		binary.LittleEndian.PutUint16(name[10:], uint16(xlen))
		return TarEntry{Name: string(name) + "-polyglot", Type: tar.TypeReg, Mode: 0o644}
	}
	// XLEN depends on the tar's length, not on the name's bytes: the tar
	// is written twice. A NUL in XLEN would end the name early.
	draft, err := CraftedTar(append([]TarEntry{first(0x4141)}, plain...))
	if err != nil {
		return nil, err
	}
	xlen := len(draft) - 12
	if xlen > 0xffff || xlen&0xff == 0 || xlen>>8 == 0 {
		return nil, fmt.Errorf("polyglot: a plain tar of %d bytes does not fit the extra field", len(draft))
	}
	outer, err := CraftedTar(append([]TarEntry{first(xlen)}, plain...))
	if err != nil {
		return nil, err
	}
	inner, err := CraftedTar(gzipped)
	if err != nil {
		return nil, err
	}
	var def bytes.Buffer
	fw, err := flate.NewWriter(&def, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	fw.Write(inner)
	fw.Close()
	out := append(outer, def.Bytes()...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(inner))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(inner)))
	return out, nil
}

// Gzip compresses b, as a layer.tar in a `docker save` tarball may be.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Digest is b's "sha256:<hex>".
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SavedImage is one image of a hand-made `docker save` tarball.
type SavedImage struct {
	// Tag is its name, e.g. "e2e/scan:1".
	Tag string
	// Layers are the layer.tar files as written into the tarball
	// (compressed or not); DiffIDs the digests of the uncompressed layers,
	// which dockerd computes on load and checks against the config.
	Layers  [][]byte
	DiffIDs []string
	// Config is the container config (Entrypoint, Env, Healthcheck).
	Config map[string]any
}

// Write writes the tarball to path and returns the image's ID, the digest
// of its config.
func (img SavedImage) Write(path string) (string, error) {
	history := make([]map[string]string, len(img.Layers))
	for i := range history {
		history[i] = map[string]string{"created": "2026-01-14T09:00:00Z", "created_by": "e2e crafted layer"}
	}
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      "2026-01-14T09:00:00Z",
		"config":       img.Config,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": img.DiffIDs},
		"history":      history,
	})
	if err != nil {
		return "", err
	}
	id := Digest(config)
	configName := id[len("sha256:"):] + ".json"
	var layerNames []string
	files := []TarEntry{{Name: configName, Type: tar.TypeReg, Mode: 0o644, Body: string(config)}}
	for i, l := range img.Layers {
		name := fmt.Sprintf("layer%d/layer.tar", i)
		layerNames = append(layerNames, name)
		files = append(files, TarEntry{Name: name, Type: tar.TypeReg, Mode: 0o644, Body: string(l)})
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{img.Tag}, "Layers": layerNames}})
	if err != nil {
		return "", err
	}
	files = append(files, TarEntry{Name: "manifest.json", Type: tar.TypeReg, Mode: 0o644, Body: string(manifest)})
	out, err := CraftedTar(files)
	if err != nil {
		return "", err
	}
	return id, os.WriteFile(path, out, 0o644)
}

// StateIndex is an index file the scanner keeps in its state directory.
type StateIndex struct {
	Version int
	ID      string
	DiffIDs []string `json:"diff_ids"`
	Entries map[string]struct {
		Type int
		Mode uint32
		Link string
	}
}

// ReadStateIndex reads the index of image id kept under stateDir, and
// whether there is one yet.
func ReadStateIndex(stateDir, id string) (*StateIndex, bool, error) {
	data, err := os.ReadFile(StateIndexPath(stateDir, id))
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var ix StateIndex
	if err := json.Unmarshal(data, &ix); err != nil {
		return nil, false, fmt.Errorf("%s: %w", StateIndexPath(stateDir, id), err)
	}
	return &ix, true, nil
}

// StateIndexPath is where the scanner keeps the index of image id.
func StateIndexPath(stateDir, id string) string {
	return stateDir + "/images/sha256-" + id[len("sha256:"):] + ".json"
}

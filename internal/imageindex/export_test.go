package imageindex

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestLayouts(t *testing.T) {
	for _, compress := range []string{"none", "gzip", "zstd"} {
		layers := [][]byte{baseLayer(t), upperLayer(t)}
		for i := range layers {
			switch compress {
			case "gzip":
				layers[i] = gz(t, layers[i])
			case "zstd":
				layers[i] = zst(t, layers[i])
			}
		}
		exports := map[string][]byte{
			"legacy/manifest-first": legacyExport(t, layers, true),
			"legacy/manifest-last":  legacyExport(t, layers, false),
			"oci/manifest-first":    ociExport(t, layers, true, true),
			"oci/manifest-last":     ociExport(t, layers, false, true),
			"oci/index-only":        ociExport(t, layers, false, false),
		}
		for name, export := range exports {
			t.Run(fmt.Sprintf("%s/%s", name, compress), func(t *testing.T) {
				ix := build(t, export)
				if _, ok := ix.Resolve("/bin/sh"); ok {
					t.Error("/bin/sh resolves after the upper layer's whiteout")
				}
				if got, ok := ix.Resolve("/bin/dash"); !ok || got != "/usr/bin/dash" {
					t.Errorf("Resolve(/bin/dash) = %q, %v", got, ok)
				}
				if got, ok := ix.LookPath("prog", []string{"/fresh/sub"}); !ok || got != "/fresh/sub/prog" {
					t.Errorf("LookPath(prog) = %q, %v", got, ok)
				}
				want := []string{diffID(t, layers[0]), diffID(t, layers[1])}
				if got := ix.DiffIDs(); !slices.Equal(got, want) {
					t.Errorf("DiffIDs = %q, want %q", got, want)
				}
			})
		}
	}
}

// TestCompressionSniffedAsDockerdDoes: dockerd decides a layer's
// compression from its first bytes, with the full magic numbers (gzip's is
// three bytes, 1f 8b 08), and a plain tar whose first file name starts with
// a magic is still a plain tar to the daemon that unpacked it. Each of
// these layers holds /bin/x, and its diff ID is its plain digest.
func TestCompressionSniffedAsDockerdDoes(t *testing.T) {
	bz, err := os.ReadFile("testdata/bin-x.tar.bz2") // bzip2 -9 of bin/, bin/x
	if err != nil {
		t.Fatal(err)
	}
	withFirst := func(name string) []byte {
		return tarOf(t, []file{reg(name, 0o644), reg("bin/x", 0o755)})
	}
	layers := map[string][]byte{
		"gzip magic, two bytes":         withFirst("\x1f\x8bname"),
		"gzip magic, three bytes":       withFirst("\x1f\x8b\x08name"),
		"gzip magic and header flags":   withFirst("\x1f\x8b\x08\x04AAAAAA\xf4\x07"),
		"bzip2 magic":                   withFirst("BZh91AY&SY"),
		"bzip2 magic, bad level":        withFirst("BZhello"),
		"xz magic":                      withFirst("\xfd7zXZ"),
		"zstd magic":                    withFirst("\x28\xb5\x2f\xfd-name"),
		"zstd skippable frame magic":    withFirst("\x50\x2a\x4d\x18AAAA-name"),
		"JSON-looking":                  withFirst("{\"not\": \"json\"}"),
		"JSON-looking with space":       withFirst(" [x"),
		"bzip2 layer":                   bz,
		"gzip of a gzip-magic tar":      gz(t, withFirst("\x1f\x8b\x08name")),
		"zstd of a zstd-magic tar":      zst(t, withFirst("\x28\xb5\x2f\xfd-name")),
		"gzip layer, gzip-looking name": gz(t, withFirst("\x1f\x8b")),
	}
	for name, layer := range layers {
		t.Run(name, func(t *testing.T) {
			for _, export := range [][]byte{legacyExport(t, [][]byte{layer}, false), ociExport(t, [][]byte{layer}, true, true)} {
				ix := build(t, export)
				if _, ok := ix.LookPath("x", []string{"/bin"}); !ok {
					t.Error("/bin/x not found")
				}
				if got, want := ix.DiffIDs(), []string{diffID(t, layer)}; !slices.Equal(got, want) {
					t.Errorf("DiffIDs = %q, want %q", got, want)
				}
			}
		})
	}
}

// TestPolyglotLayer: a layer that reads both as a plain tar and as a gzip
// stream of another tar. Only the diff ID says which one the daemon holds:
// dockerd 20.10 exports every layer uncompressed, byte for byte as it was
// loaded, so the plain reading is the image when the diff ID is the plain
// digest, whatever the gzip stream claims.
func TestPolyglotLayer(t *testing.T) {
	layer := polyglot(t,
		[]file{reg("bin/sh", 0o755)},
		[]file{reg("usr/bin/curl", 0o755)})
	plainID, gzipID := "sha256:"+hexDigest(layer), diffID(t, layer)
	if plainID == gzipID {
		t.Fatal("the test polyglot does not decompress")
	}
	withDiffID := func(id string) []byte {
		cfg := mustJSON(t, map[string]any{"rootfs": map[string]any{"type": "layers", "diff_ids": []string{id}}})
		return exportOf(t, []outer{
			{name: "l/layer.tar", data: layer},
			{name: "c.json", data: cfg},
			{name: "manifest.json", data: []byte(`[{"Config":"c.json","Layers":["l/layer.tar"]}]`)},
		})
	}
	tests := []struct {
		name       string
		export     []byte
		opts       Options
		sh, curl   bool
		wantDiffID string
	}{
		{"diff ID of the plain tar", withDiffID(plainID), Options{VerifyDiffIDs: true}, true, false, plainID},
		{"diff ID of the gzip stream", withDiffID(gzipID), Options{VerifyDiffIDs: true}, false, true, gzipID},
		// Without a config there is nothing to check: the decompressed
		// reading wins, as dockerd's DecompressStream would pick it.
		{"no config: read as dockerd's load would", exportOf(t, []outer{
			{name: "l/layer.tar", data: layer},
			{name: "manifest.json", data: []byte(`[{"Layers":["l/layer.tar"]}]`)},
		}), Options{}, false, true, gzipID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, err := Build(bytes.NewReader(tt.export), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := ix.LookPath("sh", []string{"/bin"}); ok != tt.sh {
				t.Errorf("sh found: %v, want %v", ok, tt.sh)
			}
			if _, ok := ix.LookPath("curl", []string{"/usr/bin"}); ok != tt.curl {
				t.Errorf("curl found: %v, want %v", ok, tt.curl)
			}
			if got := ix.DiffIDs(); !slices.Equal(got, []string{tt.wantDiffID}) {
				t.Errorf("DiffIDs = %q, want %q", got, tt.wantDiffID)
			}
		})
	}
	// A diff ID that neither reading has is an error naming both.
	_, err := Build(bytes.NewReader(withDiffID("sha256:"+strings.Repeat("0", 64))), Options{VerifyDiffIDs: true})
	if err == nil || !strings.Contains(err.Error(), "layer 1 of 1 (l/layer.tar): no reading matches its diff ID sha256:000") ||
		!strings.Contains(err.Error(), "gzip: digest "+gzipID) || !strings.Contains(err.Error(), "plain tar: digest "+plainID) {
		t.Errorf("wrong diff ID: %v", err)
	}
}

// TestLegacyDuplicateLayer: `docker save` writes a repeated layer once and
// links the other layer.tar to it.
func TestLegacyDuplicateLayer(t *testing.T) {
	layer := tarOf(t, []file{reg("bin/x", 0o755)})
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	export := exportOf(t, []outer{
		{name: a + "/layer.tar", data: layer},
		{name: b + "/layer.tar", link: "../" + a + "/layer.tar"},
		{name: "manifest.json", data: mustJSON(t, []map[string]any{{"Layers": []string{a + "/layer.tar", "./" + b + "/layer.tar"}}})},
	})
	ix, err := Build(bytes.NewReader(export), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.LookPath("x", []string{"/bin"}); !ok {
		t.Error("x not found")
	}
}

func TestEmptyLayers(t *testing.T) {
	for name, layer := range map[string][]byte{
		"empty tar":  tarOf(t, nil),
		"empty file": {},
		"gzip empty": gz(t, tarOf(t, nil)),
	} {
		ix, err := Build(bytes.NewReader(legacyExport(t, [][]byte{layer}, false)), Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if ix.Len() != 1 {
			t.Errorf("%s: Len = %d, want 1", name, ix.Len())
		}
	}
}

func TestBuildErrors(t *testing.T) {
	good := legacyExport(t, [][]byte{baseLayer(t), upperLayer(t)}, true)
	gzLayer := gz(t, baseLayer(t))
	xz, err := os.ReadFile("testdata/bin-x.tar.xz") // xz of bin/, bin/x
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte("not a tar header "), 100)
	verify := Options{VerifyDiffIDs: true}
	noConfig := exportOf(t, []outer{
		{name: "aaa/layer.tar", data: baseLayer(t)},
		{name: "manifest.json", data: []byte(`[{"Layers":["aaa/layer.tar"]}]`)},
	})
	withConfig := func(cfg string) []byte {
		return exportOf(t, []outer{
			{name: "aaa/layer.tar", data: baseLayer(t)},
			{name: "c.json", data: []byte(cfg)},
			{name: "manifest.json", data: []byte(`[{"Config":"c.json","Layers":["aaa/layer.tar"]}]`)},
		})
	}
	tests := []struct {
		name   string
		export []byte
		opts   Options
		want   string
	}{
		{"max entries", good, Options{MaxEntries: 20}, "too many tar entries"},
		{"max entries in outer tar", good, Options{MaxEntries: 2}, "too many tar entries"},
		{"truncated export", good[:len(good)/2], Options{}, "reading export"},
		{"garbage export", garbage, Options{}, "reading export"},
		{"empty export", nil, Options{}, "no manifest.json"},
		{"corrupt layer", legacyExport(t, [][]byte{garbage}, false), Options{}, "layer 1 of 1 (0000000000000000000000000000000000000000000000000000000000000001/layer.tar): no reading matches its diff ID sha256:aaa43c1ad6659a2f0639ca8593e600d7f4c4e6c2d50d92e9682f5e5776af22b2 (plain tar: archive/tar: invalid tar header)"},
		{"truncated gzip layer", legacyExport(t, [][]byte{gzLayer[:len(gzLayer)/2]}, false), Options{}, "gzip: unexpected EOF"},
		{"gzip layer with a bad checksum", legacyExport(t, [][]byte{append(gzLayer[:len(gzLayer)-8:len(gzLayer)-8], 0, 0, 0, 0, 0, 0, 0, 0)}, false), Options{}, "gzip: gzip: invalid checksum"},
		{"zstd layer", legacyExport(t, [][]byte{{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}}, false), Options{}, "zstd: "},
		{"xz layer", legacyExport(t, [][]byte{xz}, false), Options{}, "xz: xz-compressed layers are not supported"},
		{"missing layer", exportOf(t, []outer{
			{name: "aaa/layer.tar", data: baseLayer(t)},
			{name: "manifest.json", data: []byte(`[{"Layers":["aaa/layer.tar","bbb/layer.tar"]}]`)},
		}), Options{}, "layer 2 of 2 (bbb/layer.tar): not in the export"},
		{"outer link loop", exportOf(t, []outer{
			{name: "a/layer.tar", link: "../b/layer.tar"},
			{name: "b/layer.tar", link: "../a/layer.tar"},
			{name: "manifest.json", data: []byte(`[{"Layers":["a/layer.tar"]}]`)},
		}), Options{}, "not in the export"},
		{"bad manifest", exportOf(t, []outer{{name: "manifest.json", data: []byte(`{`)}}), Options{}, "manifest.json"},
		{"two images", exportOf(t, []outer{{name: "manifest.json", data: []byte(`[{},{}]`)}}), Options{}, "lists 2 images"},
		{"index without manifests", exportOf(t, []outer{{name: "index.json", data: []byte(`{"manifests":[]}`)}}), Options{}, "0 image manifests"},
		{"index bad digest", exportOf(t, []outer{
			{name: "blobs/sha256/m", data: []byte(`{"layers":[{"digest":"sha256:../../x"}]}`)},
			{name: "index.json", data: []byte(`{"manifests":[{"digest":"sha256:m"}]}`)},
		}), Options{}, "bad digest"},
		{"verify without a config", noConfig, verify, "cannot check the layers: the manifest names no config"},
		{"verify, config not in the export", exportOf(t, []outer{
			{name: "aaa/layer.tar", data: baseLayer(t)},
			{name: "manifest.json", data: []byte(`[{"Config":"c.json","Layers":["aaa/layer.tar"]}]`)},
		}), verify, "config c.json is not in the export"},
		{"verify, config without rootfs", withConfig(`{"architecture":"amd64"}`), verify, "has no rootfs"},
		{"verify, too few diff IDs", withConfig(`{"rootfs":{"diff_ids":[]}}`), verify, "0 diff IDs for 1 layers"},
		{"verify, not sha256", withConfig(`{"rootfs":{"diff_ids":["md5:00"]}}`), verify, "not a sha256 digest"},
		{"wrong diff ID, even without verify", withConfig(`{"rootfs":{"diff_ids":["sha256:` + strings.Repeat("0", 64) + `"]}}`), Options{}, "no reading matches its diff ID"},
	}
	for _, tt := range tests {
		ix, err := Build(bytes.NewReader(tt.export), tt.opts)
		if err == nil || ix != nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Build = %v, %v; want error containing %q", tt.name, ix, err, tt.want)
		}
	}
	if _, err := Build(bytes.NewReader(good), Options{MaxEntries: 20}); !errors.Is(err, ErrTooManyEntries) {
		t.Errorf("max entries: %v is not ErrTooManyEntries", err)
	}
	// Without verification, a config that lists no diff IDs checks nothing.
	if _, err := Build(bytes.NewReader(withConfig(`{"architecture":"amd64"}`)), Options{}); err != nil {
		t.Errorf("config without rootfs, not verifying: %v", err)
	}
}

func FuzzBuild(f *testing.F) {
	// Small seeds: the fuzzer's mutator stalls on inputs of hundreds of
	// kilobytes, so the full test images are not used here.
	small := func(files ...file) []byte { return tarOf(f, files) }
	f.Add(exportOf(f, []outer{
		{name: "a/layer.tar", data: small(sym("bin", "usr/bin"), reg("usr/bin/sh", 0o755), sym("x", "../../bin/sh"))},
		{name: "b/layer.tar", data: small(wh("usr/bin/.wh.sh"), wh("usr/.wh..wh..opq"))},
		{name: "manifest.json", data: []byte(`[{"Layers":["a/layer.tar","b/layer.tar"]}]`)},
	}))
	f.Add(exportOf(f, []outer{
		{name: "blobs/sha256/l", data: gz(f, small(reg("sh", 0o755), sym("loop", "loop")))},
		{name: "blobs/sha256/m", data: []byte(`{"layers":[{"digest":"sha256:l"}]}`)},
		{name: "index.json", data: []byte(`{"manifests":[{"digest":"sha256:m"}]}`)},
	}))
	f.Add(exportOf(f, []outer{
		{name: "l/layer.tar", data: small(reg("\x1f\x8b\x08name", 0o644), reg("bin/x", 0o755))},
		{name: "c.json", data: []byte(`{"rootfs":{"diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}`)},
		{name: "manifest.json", data: []byte(`[{"Config":"c.json","Layers":["l/layer.tar"]}]`)},
	}))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := Build(bytes.NewReader(data), Options{MaxEntries: 10000})
		if err != nil {
			return
		}
		if verified, err := Build(bytes.NewReader(data), Options{MaxEntries: 10000, VerifyDiffIDs: true}); err == nil && len(verified.DiffIDs()) != len(ix.DiffIDs()) {
			t.Errorf("verified export has %d layers, unverified %d", len(verified.DiffIDs()), len(ix.DiffIDs()))
		}
		for _, p := range []string{"/bin/sh", "/", "../x/..", "/a/b/c/"} {
			ix.Resolve(p)
			ix.Lstat(p)
		}
		ix.LookPath("sh", defaultPath)
		ix.Len()
	})
}

func BenchmarkBuild(b *testing.B) {
	export := syntheticImage(b)
	b.SetBytes(int64(len(export)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(bytes.NewReader(export), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

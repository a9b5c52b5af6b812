package imageindex

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLayouts(t *testing.T) {
	for _, compress := range []bool{false, true} {
		layers := [][]byte{baseLayer(t), upperLayer(t)}
		if compress {
			for i := range layers {
				layers[i] = gz(t, layers[i])
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
			t.Run(fmt.Sprintf("%s/gzip=%v", name, compress), func(t *testing.T) {
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
			})
		}
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
	ix := build(t, export)
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
	garbage := bytes.Repeat([]byte("not a tar header "), 100)
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
		{"corrupt layer", legacyExport(t, [][]byte{garbage}, false), Options{}, "layer"},
		{"truncated gzip layer", legacyExport(t, [][]byte{gzLayer[:len(gzLayer)/2]}, false), Options{}, "unexpected EOF"},
		{"zstd layer", legacyExport(t, [][]byte{{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}}, false), Options{}, "zstd"},
		{"missing layer", exportOf(t, []outer{
			{name: "aaa/layer.tar", data: baseLayer(t)},
			{name: "manifest.json", data: []byte(`[{"Layers":["aaa/layer.tar","bbb/layer.tar"]}]`)},
		}), Options{}, "bbb/layer.tar is not in the export"},
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
		}), Options{}, "bad layer digest"},
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
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := Build(bytes.NewReader(data), Options{MaxEntries: 10000})
		if err != nil {
			return
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

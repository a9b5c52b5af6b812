package imageindex

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// file is one entry of a test layer.
type file struct {
	name string
	typ  byte
	mode int64
	link string
	body string
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
		h := &tar.Header{Name: f.name, Typeflag: f.typ, Mode: f.mode, Linkname: f.link}
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
	config := outer{name: strings.Repeat("c", 64) + ".json", data: []byte(`{"architecture":"amd64"}`)}
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
	cd, ce := blob([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}`))
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

func build(t testing.TB, export []byte) *Index {
	t.Helper()
	ix, err := Build(bytes.NewReader(export), Options{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return ix
}

var defaultPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

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

func TestResolve(t *testing.T) {
	ix := build(t, legacyExport(t, [][]byte{baseLayer(t)}, false))
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"/bin/sh", "/usr/bin/dash", true},
		{"bin/sh", "/usr/bin/dash", true},
		{"/bin//./sh", "/usr/bin/dash", true},
		{"/usr/bin/sh", "/usr/bin/dash", true},
		{"/bin/", "/usr/bin", true},
		{"/", "/", true},
		{"", "/", true},
		{"/usr/bin/hard", "/usr/bin/hard", true},
		// ".." is taken on the resolved directory: /bin is /usr/bin.
		{"/bin/../only", "/usr/only", true},
		{"/only", "", false},
		// ".." never leaves the root, in the path or in link targets.
		{"/../../bin/sh", "/usr/bin/dash", true},
		{"../../../usr/bin/dash", "/usr/bin/dash", true},
		{"/escape", "/usr/bin/dash", true},
		{"/etc/esc", "/usr/bin/dash", true},
		{"/usr/lib/up", "/usr/bin/dash", true},
		// Dangling, through two links.
		{"/usr/bin/awk", "", false},
		{"/etc/alternatives/awk", "", false},
		{"/loop/a", "", false},
		{"/loop/a/x", "", false},
		{"/self", "", false},
		{"/empty", "", false},
		{"/nonexistent", "", false},
		{"/usr/bin/dash/x", "", false},
		{"/usr/bin/dash/", "", false},
		{"/usr/bin/dash/.", "", false},
		{"/usr/bin/dash/..", "", false},
		// The kernel's limit: 40 links are followed, the 41st fails.
		{"/chain/c1", "/chain/end", true},
		{"/chain/c0", "", false},
		{"/dev/null", "/dev/null", true},
	}
	for _, tt := range tests {
		got, ok := ix.Resolve(tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStat(t *testing.T) {
	ix := build(t, legacyExport(t, [][]byte{baseLayer(t)}, true))
	tests := []struct {
		path  string
		lstat bool
		want  Entry
		ok    bool
	}{
		{"/bin/sh", true, Entry{Type: TypeSymlink, Mode: 0o777, Link: "dash"}, true},
		{"/bin/sh", false, Entry{Type: TypeRegular, Mode: 0o755}, true},
		{"/bin", true, Entry{Type: TypeSymlink, Mode: 0o777, Link: "usr/bin"}, true},
		{"/bin/", true, Entry{Type: TypeDir, Mode: 0o755}, true},
		{"/usr/bin/hard", true, Entry{Type: TypeHardlink, Mode: 0o755, Link: "/usr/bin/dash"}, true},
		{"/usr/bin/awk", true, Entry{Type: TypeSymlink, Mode: 0o777, Link: "/etc/alternatives/awk"}, true},
		{"/usr/bin/awk", false, Entry{}, false},
		{"/dev/null", false, Entry{Type: TypeOther, Mode: 0o666}, true},
		// Implicit parents (no header of their own) are directories.
		{"/opt/tools", false, Entry{Type: TypeDir, Mode: 0o755}, true},
	}
	for _, tt := range tests {
		var got Entry
		var ok bool
		if tt.lstat {
			got, ok = ix.Lstat(tt.path)
		} else {
			got, ok = ix.Stat(tt.path)
		}
		if got != tt.want || ok != tt.ok {
			t.Errorf("lstat=%v %q = %+v, %v; want %+v, %v", tt.lstat, tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if n := ix.Len(); n < 60 {
		t.Errorf("Len() = %d, want at least 60", n)
	}
}

func TestLookPath(t *testing.T) {
	base := build(t, legacyExport(t, [][]byte{baseLayer(t)}, false))
	upper := build(t, ociExport(t, [][]byte{baseLayer(t), upperLayer(t)}, false, true))
	debian := build(t, legacyExport(t, debianLayers(t), true))
	debianBase := build(t, legacyExport(t, debianLayers(t)[:1], true))
	tests := []struct {
		name string
		ix   *Index
		prog string
		path []string
		want string
		ok   bool
	}{
		{"default PATH finds /usr/bin first", base, "sh", defaultPath, "/usr/bin/sh", true},
		{"through /bin link", base, "sh", []string{"/bin"}, "/bin/sh", true},
		{"absolute", base, "/bin/sh", nil, "/bin/sh", true},
		{"relative with slash from root", base, "usr/bin/dash", nil, "/usr/bin/dash", true},
		{"relative with dot", base, "./bin/sh", nil, "/bin/sh", true},
		{"hardlink", base, "hard", defaultPath, "/usr/bin/hard", true},
		{"owner-only execute bit", base, "setuid-only-user-x", defaultPath, "/usr/bin/setuid-only-user-x", true},
		{"opt tools not on default PATH", base, "tool", defaultPath, "", false},
		{"opt tools on PATH", base, "tool", append(append([]string{}, defaultPath...), "/opt/tools/bin"), "/opt/tools/bin/tool", true},
		{"relative PATH dir from root", base, "tool", []string{"opt/tools/bin"}, "/opt/tools/bin/tool", true},
		{"not executable", base, "readme", defaultPath, "", false},
		{"not executable by path", base, "/usr/bin/readme", nil, "", false},
		{"dangling", base, "awk", defaultPath, "", false},
		{"directory", base, "bin", []string{"/"}, "", false},
		{"device", base, "/dev/null", nil, "", false},
		{"missing", base, "curl", defaultPath, "", false},
		{"empty name", base, "", defaultPath, "", false},
		{"empty PATH", base, "sh", nil, "", false},
		{"merged-usr sh whited out", upper, "sh", defaultPath, "", false},
		{"merged-usr /bin/sh whited out", upper, "/bin/sh", nil, "", false},
		{"dash survives", upper, "dash", defaultPath, "/usr/bin/dash", true},
		{"opaque dir keeps own file", upper, "/var/data/new", nil, "/var/data/new", true},
		{"opaque dir hides lower file", upper, "/var/data/x", nil, "", false},
		{"subtree whiteout", upper, "tool", []string{"/opt/tools/bin"}, "", false},
		{"file replaces dir", upper, "/srv/d/child", nil, "", false},
		{"debian sh before", debianBase, "sh", defaultPath, "/bin/sh", true},
		{"debian sh whited out", debian, "sh", defaultPath, "", false},
		{"debian ls stays", debian, "ls", defaultPath, "/bin/ls", true},
	}
	for _, tt := range tests {
		got, ok := tt.ix.LookPath(tt.prog, tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: LookPath(%q) = %q, %v; want %q, %v", tt.name, tt.prog, got, ok, tt.want, tt.ok)
		}
	}
	if e, ok := upper.Stat("/var/data"); !ok || e.Type != TypeDir {
		t.Errorf("/var/data after opaque = %+v, %v", e, ok)
	}
	if e, ok := upper.Stat("/srv/d"); !ok || e.Type != TypeRegular {
		t.Errorf("/srv/d = %+v, %v", e, ok)
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

func BenchmarkLookPath(b *testing.B) {
	ix, err := Build(bytes.NewReader(syntheticImage(b)), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ix.LookPath("sh", defaultPath); !ok {
			b.Fatal("sh not found")
		}
		if _, ok := ix.LookPath("curl", defaultPath); ok {
			b.Fatal("curl found")
		}
	}
}

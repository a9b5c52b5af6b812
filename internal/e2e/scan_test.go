//go:build e2e

package e2e

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hardened-authz/hardened-authz/internal/imagescan"
)

// The scanner scenarios: layers whose bytes make a naive reader see other
// files than the daemon unpacked, and new images indexed from the daemon's
// events without any create.

// craftedPath is the PATH of the crafted images.
const craftedPath = "PATH=/usr/local/bin:/usr/bin:/bin"

// craftedImage is a hand-made image the daemon loads.
type craftedImage struct {
	SavedImage
	// first is what the layer dockerd exports must start with.
	first []byte
}

// craftedConfig runs /bin/x, which every crafted image has, and inherits a
// healthcheck that runs curl, which none has: a create is HA002 when the
// index is right.
func craftedConfig() map[string]any {
	return map[string]any{
		"Entrypoint":  []string{"/bin/x"},
		"Env":         []string{craftedPath},
		"Healthcheck": map[string]any{"Test": []string{"CMD", "curl", "-f", "http://localhost:3000/"}, "Interval": 30_000_000_000},
	}
}

// binX is the files every crafted image has: /bin/x, executable.
var binX = []TarEntry{
	{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
	{Name: "bin/x", Type: tar.TypeReg, Mode: 0o755, Body: "#!/bin/x\n"},
}

// craftedImages are the layers the scanner once misread:
//   - a plain layer whose first file name starts with 1f 8b, the first two
//     bytes of gzip's magic: dockerd's sniff needs three (1f 8b 08) and
//     loads it as a plain tar, the scanner took it for gzip and failed on
//     every scan, forever;
//   - a layer loaded gzipped whose tar starts with the full gzip magic
//     1f 8b 08: dockerd decompresses it once on load and exports it plain,
//     still starting with the magic, which fails as gzip;
//   - a polyglot layer, loaded gzipped: a plain tar (the daemon's files)
//     that is also a valid gzip stream of another tar holding
//     /usr/bin/curl. Only the diff ID tells which one the daemon holds.
func craftedImages(t *testing.T) map[string]craftedImage {
	t.Helper()
	twoBytes, err := CraftedTar(append([]TarEntry{{Name: "\x1f\x8b-gzip-looking-name", Type: tar.TypeReg, Mode: 0o644}}, binX...))
	if err != nil {
		t.Fatal(err)
	}
	threeBytes, err := CraftedTar(append([]TarEntry{{Name: "\x1f\x8b\x08-gzip-magic-name", Type: tar.TypeReg, Mode: 0o644}}, binX...))
	if err != nil {
		t.Fatal(err)
	}
	poly, err := PolyglotLayer(binX, []TarEntry{
		{Name: "usr/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/curl", Type: tar.TypeReg, Mode: 0o755, Body: "#!curl\n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]craftedImage{
		"gzip-looking first name": {SavedImage{Tag: "e2e/scan-gzipname:1", Layers: [][]byte{twoBytes},
			DiffIDs: []string{Digest(twoBytes)}, Config: craftedConfig()}, []byte{0x1f, 0x8b, '-'}},
		"gzip magic first name": {SavedImage{Tag: "e2e/scan-gzipmagic:1", Layers: [][]byte{Gzip(threeBytes)},
			DiffIDs: []string{Digest(threeBytes)}, Config: craftedConfig()}, []byte{0x1f, 0x8b, 0x08, '-'}},
		"gzip polyglot": {SavedImage{Tag: "e2e/scan-polyglot:1", Layers: [][]byte{Gzip(poly)},
			DiffIDs: []string{Digest(poly)}, Config: craftedConfig()}, []byte{0x1f, 0x8b, 0x08, 0x04}},
	}
}

// TestScanCraftedLayers: dockerd loads each crafted image, and exports its
// layer starting with the bytes that once fooled the scanner. The index,
// built by the scanner alone and by the plugin, has /bin/x and no curl, as
// the daemon's files are: the inherited curl healthcheck is HA002, from
// the index.
func TestScanCraftedLayers(t *testing.T) {
	for name, img := range craftedImages(t) {
		t.Run(name, func(t *testing.T) {
			id := loadCrafted(t, img.SavedImage)
			if got := strings.TrimSpace(mustDocker(t, 30*time.Second, "inspect", "-f", "{{json .RootFS.Layers}}", img.Tag).Out); got != mustJSONString(t, img.DiffIDs) {
				t.Fatalf("the daemon's diff IDs are %s, want %q", got, img.DiffIDs)
			}
			// What the daemon holds, and exports to the plugin.
			layers := savedLayers(t, img.Tag)
			if len(layers) != 1 || !strings.HasPrefix(string(layers[0]), string(img.first)) {
				t.Fatalf("the exported layer does not start with % x", img.first)
			}
			if Digest(layers[0]) != img.DiffIDs[0] {
				t.Fatalf("the exported layer is %s, not the loaded layer %s", Digest(layers[0]), img.DiffIDs[0])
			}
			entries := exportedLayers(t, img.Tag)[0]
			requireEntry(t, entries, "bin/x", tar.TypeReg, "")
			if e, ok := entries["usr/bin/curl"]; ok {
				t.Fatalf("the daemon's layer has %s", e)
			}

			t.Run("scanner", func(t *testing.T) {
				state := t.TempDir()
				s := imagescan.New(daemonClient(t), state, slog.New(slog.NewTextHandler(t.Output(), nil)))
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				ix, err := s.Lookup(ctx, id)
				if err != nil {
					t.Fatalf("Lookup: %v", err)
				}
				if p, ok := ix.LookPath("x", []string{"/usr/bin", "/bin"}); !ok || p != "/bin/x" {
					t.Errorf("LookPath(x) = %q, %v; want /bin/x", p, ok)
				}
				if p, ok := ix.LookPath("curl", []string{"/usr/local/bin", "/usr/bin", "/bin"}); ok {
					t.Errorf("the index has curl at %s, which the daemon's layer does not", p)
				}
				requireStateIndex(t, state, id, img.DiffIDs)
			})

			t.Run("plugin", func(t *testing.T) {
				res := requireDeniedRun(t, img.Tag, "HA002")
				requireContains(t, "docker run output", res.Out, `"curl"`)
				requireStateIndex(t, filepath.Join(suite.Dir, "state"), id, img.DiffIDs)
			})
		})
	}
}

// TestScanWatchEventsIndexesNewImages: a scanner following the private
// dockerd 20.10's events indexes what `docker load`, `docker import`,
// `docker tag` and `docker commit` bring, without any create or lookup.
// The scanner runs in the test, so this holds whatever `authz serve` wires.
func TestScanWatchEventsIndexesNewImages(t *testing.T) {
	state := t.TempDir()
	s := imagescan.New(daemonClient(t), state, slog.New(slog.NewTextHandler(t.Output(), nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.WatchEvents(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("WatchEvents did not stop with its context")
		}
	})

	t.Run("load", func(t *testing.T) {
		id := loadCrafted(t, uniqueImage(t, "e2e/scan-events-load:1"))
		waitStateIndex(t, state, id, "docker load")
	})
	t.Run("import", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "marker")
		os.WriteFile(marker, []byte("#!/bin/x "+randomHex(8)+"\n"), 0o644)
		rootfs := NewRootfs()
		rootfs.AddFile("/bin/x", marker, 0o755)
		tag := "e2e/scan-events-import:" + randomHex(3)
		if err := (Image{Tags: []string{tag}, Rootfs: rootfs, Changes: []string{`ENTRYPOINT ["/bin/x"]`}}).Import(suite.Docker, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		waitStateIndex(t, state, imageID(t, tag), "docker import")
	})
	t.Run("tag", func(t *testing.T) {
		// An image the daemon has had all along: only the tag event
		// brings it to this scanner.
		mustDocker(t, 30*time.Second, "tag", ImageAcmeMergedUsr, "e2e/scan-events-tag:"+randomHex(3))
		waitStateIndex(t, state, imageID(t, ImageAcmeMergedUsr), "docker tag")
	})
	t.Run("commit", func(t *testing.T) {
		// Untagged: dockerd 20.10 logs only the container's commit event.
		name := "e2e-scan-commit-" + randomHex(3)
		mustDocker(t, 60*time.Second, "run", "--name", name, "--network", "none", "--entrypoint", "/bin/busybox",
			ImageAcmeBase, "cp", "/app", "/app2")
		t.Cleanup(func() { docker(t, 30*time.Second, "rm", "-f", name) })
		id := strings.TrimSpace(mustDocker(t, 60*time.Second, "commit", name).Stdout)
		if !strings.HasPrefix(id, "sha256:") {
			t.Fatalf("docker commit printed %q, not an image ID", id)
		}
		waitStateIndex(t, state, id, "docker commit")
	})
	if st := s.Stats(); st.EventsSeen < 4 || st.EventsDropped != 0 || st.Failures != 0 {
		t.Errorf("scanner stats %+v", st)
	}
}

// TestScanWarmAllIndexesEveryImage: every image of the suite (imported,
// committed with whiteouts and opaque directories, loaded by hand) is
// indexed from dockerd 20.10's exports, each layer matching its diff ID.
func TestScanWarmAllIndexesEveryImage(t *testing.T) {
	state := t.TempDir()
	s := imagescan.New(daemonClient(t), state, slog.New(slog.NewTextHandler(t.Output(), nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s.WarmAll(ctx)
	ids := strings.Fields(mustDocker(t, 30*time.Second, "images", "-q", "--no-trunc").Stdout)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	st := s.Stats()
	if st.Failures != 0 || st.Scans != int64(len(ids)) {
		t.Fatalf("scanner stats %+v for %d images", st, len(ids))
	}
	for _, id := range ids {
		ix, ok, err := ReadStateIndex(state, id)
		if err != nil || !ok || len(ix.DiffIDs) == 0 {
			t.Errorf("%s: no index with diff IDs (%v)", id, err)
			continue
		}
		var layers []string
		mustJSONInto(t, mustDocker(t, 30*time.Second, "inspect", "-f", "{{json .RootFS.Layers}}", id).Out, &layers)
		if !slices.Equal(ix.DiffIDs, layers) {
			t.Errorf("%s: the index read layers %q, the daemon has %q", id, ix.DiffIDs, layers)
		}
	}
	// The whiteout and the opaque directory of the committed images.
	for image, gone := range map[string]string{ImageAcmeWhiteout: "/bin/sh", ImageAcmeOpaque: "/bin/busybox"} {
		ix, _, _ := ReadStateIndex(state, imageID(t, image))
		if _, ok := ix.Entries[gone]; ok || ix.Entries["/app"].Type == 0 {
			t.Errorf("%s: the index has %s or lacks /app", image, gone)
		}
	}
}

// TestScanPluginIndexesLoadedImagesWithoutACreate: the plugin indexes an
// image as soon as `docker load` brings it, so the first create finds the
// index ready. dockerd 20.10 sends AuthZRes for a load without a status, so
// only the daemon's events can tell the plugin: `authz serve` must follow
// them (imagescan.Scanner.WatchEvents).
func TestScanPluginIndexesLoadedImagesWithoutACreate(t *testing.T) {
	offset := suite.Plugin.LogSize()
	img := uniqueImage(t, "e2e/scan-plugin-load:1")
	id := loadCrafted(t, img)
	state := filepath.Join(suite.Dir, "state")
	if !waitFor(60*time.Second, 200*time.Millisecond, func() bool {
		_, ok, _ := ReadStateIndex(state, id)
		return ok
	}) {
		t.Fatalf("the plugin did not index %s (%s) within 60s of `docker load`, without a create: does `authz serve` follow the daemon's events (Scanner.WatchEvents)?\n--- plugin log since the load ---\n%s",
			img.Tag, id, logSince(suite.Plugin.LogPath, offset))
	}
	requireStateIndex(t, state, id, img.DiffIDs)
	ds, err := suite.Plugin.DecisionsSince(offset)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Field("image") == img.Tag {
			t.Errorf("a create of the image was decided during the test: %s", d.Line)
		}
	}
}

// uniqueImage is a one-layer crafted image of its own, with /bin/x and a
// file no other image has, so its ID is new to the daemon.
func uniqueImage(t *testing.T, tag string) SavedImage {
	t.Helper()
	layer, err := CraftedTar(append([]TarEntry{{Name: "marker-" + randomHex(8), Type: tar.TypeReg, Mode: 0o644}}, binX...))
	if err != nil {
		t.Fatal(err)
	}
	return SavedImage{Tag: tag, Layers: [][]byte{layer}, DiffIDs: []string{Digest(layer)}, Config: craftedConfig()}
}

// loadCrafted writes img as a `docker save` tarball, loads it into the
// private daemon and returns its image ID, checked against the daemon's.
func loadCrafted(t *testing.T, img SavedImage) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image.tar")
	id, err := img.Write(path)
	if err != nil {
		t.Fatal(err)
	}
	mustDocker(t, 2*time.Minute, "load", "-i", path)
	if got := imageID(t, img.Tag); got != id {
		t.Fatalf("the daemon loaded %s as %s, want %s", img.Tag, got, id)
	}
	return id
}

func imageID(t *testing.T, ref string) string {
	t.Helper()
	return strings.TrimSpace(mustDocker(t, 30*time.Second, "inspect", "--type", "image", "-f", "{{.Id}}", ref).Out)
}

// daemonClient is an Engine API client of the private daemon; its calls go
// through the plugin, as the plugin's own do.
func daemonClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.WithHost(suite.Daemon.Host()), client.WithAPIVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// waitStateIndex waits up to a minute for the index of image id in state.
func waitStateIndex(t *testing.T, state, id, after string) {
	t.Helper()
	var err error
	if !waitFor(60*time.Second, 200*time.Millisecond, func() bool {
		var ok bool
		_, ok, err = ReadStateIndex(state, id)
		return ok
	}) {
		t.Fatalf("no index of %s in %s within 60s of `%s` (last error %v)", id, state, after, err)
	}
}

// requireStateIndex fails the test unless state holds the index of image
// id, with diffIDs and /bin/x, without /usr/bin/curl.
func requireStateIndex(t *testing.T, state, id string, diffIDs []string) {
	t.Helper()
	ix, ok, err := ReadStateIndex(state, id)
	if err != nil || !ok {
		t.Fatalf("no index of %s in %s (%v)", id, state, err)
	}
	if ix.ID != id || !slices.Equal(ix.DiffIDs, diffIDs) {
		t.Errorf("the index file is of %s with diff IDs %q, want %s and %q", ix.ID, ix.DiffIDs, id, diffIDs)
	}
	if e, ok := ix.Entries["/bin/x"]; !ok || e.Mode != 0o755 {
		t.Errorf("the index lacks /bin/x (mode 0755): %+v", e)
	}
	if _, ok := ix.Entries["/usr/bin/curl"]; ok {
		t.Errorf("the index has /usr/bin/curl, which the daemon's layer does not")
	}
}

// savedLayers returns the raw layer files of `docker save image`, lowest
// first: the bytes the plugin's export reads.
func savedLayers(t *testing.T, image string) [][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "save.tar")
	mustDocker(t, 2*time.Minute, "save", "-o", out, image)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var manifest []struct{ Layers []string }
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == "manifest.json" {
			if err := json.Unmarshal(data, &manifest); err != nil {
				t.Fatal(err)
			}
			continue
		}
		files[hdr.Name] = data
	}
	if len(manifest) != 1 {
		t.Fatalf("docker save %s: %d manifests", image, len(manifest))
	}
	var layers [][]byte
	for _, l := range manifest[0].Layers {
		layers = append(layers, files[l])
	}
	return layers
}

func mustJSONInto(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
}

func mustJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// logSince is the plugin log from offset on, for a failure message.
func logSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	f.Seek(offset, io.SeekStart)
	b, _ := io.ReadAll(io.LimitReader(f, 16<<10))
	return string(b)
}

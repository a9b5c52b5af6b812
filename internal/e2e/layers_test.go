//go:build e2e

package e2e

import (
	"archive/tar"
	"testing"
)

// TestLayersHardlinkToFIFO: dockerd 20.10 loads a layer whose
// /usr/bin/curl is a hardlink to a FIFO as link(2) makes it: curl is the
// FIFO, which no exec runs, whatever mode the link's header gives it. The
// index must say so: the inherited curl healthcheck is HA002, from the
// index, not an executable curl made of a hardlink's header.
func TestLayersHardlinkToFIFO(t *testing.T) {
	layer, err := CraftedTar(append(append([]TarEntry(nil), binX...),
		TarEntry{Name: "bin/marker", Type: tar.TypeReg, Mode: 0o644, Body: randomHex(8)},
		TarEntry{Name: "usr/", Type: tar.TypeDir, Mode: 0o755},
		TarEntry{Name: "usr/bin/", Type: tar.TypeDir, Mode: 0o755},
		TarEntry{Name: "usr/bin/pipe", Type: tar.TypeFifo, Mode: 0o644},
		TarEntry{Name: "usr/bin/curl", Type: tar.TypeLink, Mode: 0o755, Link: "usr/bin/pipe"},
	))
	if err != nil {
		t.Fatal(err)
	}
	img := SavedImage{Tag: "e2e/layers-hardlink-fifo:" + randomHex(3), Layers: [][]byte{layer},
		DiffIDs: []string{Digest(layer)}, Config: craftedConfig()}
	loadCrafted(t, img)
	// What dockerd holds, and exports to the plugin.
	entries := exportedLayers(t, img.Tag)[0]
	requireEntry(t, entries, "usr/bin/pipe", tar.TypeFifo, "")
	requireEntry(t, entries, "usr/bin/curl", tar.TypeLink, "usr/bin/pipe")
	requireDeniedRun(t, img.Tag, "HA002")
}

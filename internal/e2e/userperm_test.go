//go:build e2e

package e2e

import (
	"archive/tar"
	"testing"
)

// TestUserCannotExecuteProbe: an image whose healthcheck program,
// /usr/bin/probe, is 0700 root:root and whose user is 65532: the program
// is in the image, but the container's user cannot execute it, so the
// plugin denies the run with HA002, from the index.
func TestUserCannotExecuteProbe(t *testing.T) {
	layer, err := CraftedTar(append([]TarEntry{
		{Name: "marker-" + randomHex(8), Type: tar.TypeReg, Mode: 0o644},
		{Name: "usr/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/probe", Type: tar.TypeReg, Mode: 0o700, Body: "#!/bin/x\n"},
	}, binX...))
	if err != nil {
		t.Fatal(err)
	}
	cfg := craftedConfig()
	cfg["User"] = "65532"
	cfg["Healthcheck"] = map[string]any{"Test": []string{"CMD", "/usr/bin/probe"}, "Interval": 30_000_000_000}
	img := SavedImage{Tag: "e2e/userperm:1", Layers: [][]byte{layer}, DiffIDs: []string{Digest(layer)}, Config: cfg}
	loadCrafted(t, img)
	res := requireDeniedRun(t, img.Tag, "HA002")
	requireContains(t, "docker run output", res.Out, "/usr/bin/probe")
}

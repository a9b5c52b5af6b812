//go:build e2e

package e2e

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The images of the image-index scenarios. No catalog knows their names, so
// only the plugin's index of the image's own files can tell what they hold.
const (
	// ImageAcmeAPI is the static app alone: no shell, no curl.
	ImageAcmeAPI = "acme/api:1.4"
	// ImageAcmeWeb is ImageAcmeAPI with a HEALTHCHECK of its own, in exec
	// form, that runs curl, which the image lacks.
	ImageAcmeWeb = "acme/web:2.0"
	// ImageAcmeMergedUsr is a merged-/usr image: /bin -> usr/bin and
	// /usr/bin/sh -> dash, where /usr/bin/dash is a static busybox. So
	// /bin/sh reaches a real shell through two symlinks.
	ImageAcmeMergedUsr = "acme/slim:3"
	// ImageAcmeTools has curl (and its libraries) only in /opt/tools/bin,
	// with ENV PATH=/opt/tools/bin, plus the app.
	ImageAcmeTools = "acme/tools:1"
	// ImageAcmeBase is busybox (a shell in /bin) plus the app: the lower
	// layer of the two committed images below.
	ImageAcmeBase = "acme/base:1"
	// ImageAcmeWhiteout is ImageAcmeBase plus a layer, committed from a
	// container that ran `rm /bin/sh`: the layer holds bin/.wh.sh.
	ImageAcmeWhiteout = "acme/nosh:2"
	// ImageAcmeOpaque is ImageAcmeBase plus a layer, committed from a
	// container that replaced /bin wholesale with a directory holding only
	// the app: the layer holds the opaque marker bin/.wh..wh..opq.
	ImageAcmeOpaque = "acme/newbin:2"
)

// acmeHealthcheck is the exec-form HEALTHCHECK of ImageAcmeWeb.
const acmeHealthcheck = `HEALTHCHECK --interval=30s CMD ["curl","-f","http://localhost:3000/"]`

// importIndexImages builds the images of the image-index scenarios: four
// imported from rootfs tars, two committed on top of a third so they have a
// second layer with a whiteout the daemon wrote itself.
func (s *Suite) importIndexImages(dir, appBin string) error {
	host := Runner{}
	path := "ENV PATH=/usr/local/bin:/usr/bin:/bin"
	busyboxBin, err := findBusybox()
	if err != nil {
		return err
	}

	api := NewRootfs()
	api.AddFile("/app", appBin, 0o755)

	mergedUsr := NewRootfs()
	mergedUsr.AddFile("/app", appBin, 0o755)
	mergedUsr.AddSymlink("/bin", "usr/bin")
	mergedUsr.AddFile("/usr/bin/dash", busyboxBin, 0o755)
	mergedUsr.AddSymlink("/usr/bin/sh", "dash")

	tools := NewRootfs()
	tools.AddFile("/app", appBin, 0o755)
	if err := tools.AddBinary(host, "/opt/tools/bin/curl", "/usr/bin/curl"); err != nil {
		return err
	}

	base := NewRootfs()
	base.AddFile("/app", appBin, 0o755)
	base.AddFile("/bin/busybox", busyboxBin, 0o755)
	for _, applet := range []string{"sh", "rm", "cp", "mkdir", "echo"} {
		base.AddSymlink("/bin/"+applet, "busybox")
	}

	app := `ENTRYPOINT ["/app"]`
	images := []Image{
		{Tags: []string{ImageAcmeAPI}, Rootfs: api, Changes: []string{app, path, "EXPOSE 3000"}},
		{Tags: []string{ImageAcmeWeb}, Rootfs: api, Changes: []string{app, path, "EXPOSE 3000", acmeHealthcheck}},
		{Tags: []string{ImageAcmeMergedUsr}, Rootfs: mergedUsr, Changes: []string{app, path}},
		{Tags: []string{ImageAcmeTools}, Rootfs: tools, Changes: []string{app, "ENV PATH=/opt/tools/bin"}},
		{Tags: []string{ImageAcmeBase}, Rootfs: base, Changes: []string{app, path}},
	}
	for _, img := range images {
		if err := img.Import(s.Docker, dir); err != nil {
			return err
		}
	}

	// The second layers come from real containers: dockerd's diff of the
	// container's filesystem is what writes the whiteouts, as for any image
	// built with `RUN rm ...`.
	if err := commitLayer(s.Docker, ImageAcmeBase, ImageAcmeWhiteout,
		"/bin/busybox", "rm", "/bin/sh"); err != nil {
		return err
	}
	// rm -rf of a lower-layer directory and mkdir of it again makes the new
	// directory opaque. The shell runs busybox from a copy, as /bin goes.
	if err := commitLayer(s.Docker, ImageAcmeBase, ImageAcmeOpaque,
		"/bin/busybox", "sh", "-c",
		"cp /bin/busybox /busybox && /busybox rm -rf /bin && /busybox mkdir /bin && /busybox cp /app /bin/app && /busybox rm /busybox"); err != nil {
		return err
	}
	return nil
}

// commitLayer runs entrypoint with args in a container of base, waits for it
// to exit 0 and commits its filesystem changes as the image tag, with the
// app as entrypoint again.
func commitLayer(docker Runner, base, tag, entrypoint string, args ...string) error {
	name := "e2e-layer-" + randomHex(4)
	run := append([]string{"run", "--name", name, "--network", "none", "--entrypoint", entrypoint, base}, args...)
	res := docker.Run(2*time.Minute, "docker", run...)
	defer docker.Run(30*time.Second, "docker", "rm", "-f", name)
	if !res.OK() {
		return fmt.Errorf("build the layer of %s:\n%s", tag, res)
	}
	res = docker.Run(2*time.Minute, "docker", "commit",
		"--change", `ENTRYPOINT ["/app"]`, "--change", `CMD []`, name, tag)
	if !res.OK() {
		return fmt.Errorf("commit %s:\n%s", tag, res)
	}
	return nil
}

// findBusybox is the host's busybox, which must be static to run in an image
// without libc.
func findBusybox() (string, error) {
	busyboxBin, err := exec.LookPath("busybox")
	if err != nil {
		return "", err
	}
	if libs, err := sharedLibraries(Runner{}, busyboxBin); err != nil || len(libs) > 0 {
		return "", fmt.Errorf("%s is not a static busybox (libraries %v, error %v): install busybox-static", busyboxBin, libs, err)
	}
	return busyboxBin, nil
}

// LayerEntry is one tar entry of an image layer.
type LayerEntry struct {
	Name string
	Type byte // tar.TypeReg, tar.TypeSymlink, ...
	Link string
}

// String renders the entry like `ls -l` would, for messages.
func (e LayerEntry) String() string {
	switch e.Type {
	case tar.TypeSymlink:
		return e.Name + " -> " + e.Link
	case tar.TypeLink:
		return e.Name + " link to " + e.Link
	case tar.TypeDir:
		return e.Name + " (dir)"
	}
	return e.Name
}

// Layer is the entries of one image layer, by name.
type Layer map[string]LayerEntry

// String lists the entries, sorted, one a line.
func (l Layer) String() string {
	lines := make([]string, 0, len(l))
	for _, e := range l {
		lines = append(lines, e.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// ExportedLayers reads `docker save` of image, which is the stream the
// daemon exports to anyone (the plugin included), and returns its layers,
// lowest first.
func ExportedLayers(docker Runner, dir, image string) ([]Layer, error) {
	out := filepath.Join(dir, "save-"+randomHex(4)+".tar")
	defer os.Remove(out)
	if res := docker.Run(2*time.Minute, "docker", "save", "-o", out, image); !res.OK() {
		return nil, fmt.Errorf("docker save %s:\n%s", image, res)
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	var manifest []struct{ Layers []string }
	files := map[string]Layer{} // by layer file
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("docker save %s: %w", image, err)
		}
		switch {
		case hdr.Name == "manifest.json":
			if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
				return nil, fmt.Errorf("docker save %s: manifest.json: %w", image, err)
			}
		case strings.HasSuffix(hdr.Name, "layer.tar") && hdr.Typeflag == tar.TypeReg:
			l, err := readLayer(tr)
			if err != nil {
				return nil, fmt.Errorf("docker save %s: %s: %w", image, hdr.Name, err)
			}
			files[hdr.Name] = l
		}
	}
	if len(manifest) != 1 {
		return nil, fmt.Errorf("docker save %s: %d manifests, want 1", image, len(manifest))
	}
	layers := make([]Layer, 0, len(manifest[0].Layers))
	for _, name := range manifest[0].Layers {
		l, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("docker save %s: layer %s is not in the export (a link?)", image, name)
		}
		layers = append(layers, l)
	}
	return layers, nil
}

// readLayer reads the entries of a layer tar, names without "./" or a
// trailing slash.
func readLayer(r io.Reader) (Layer, error) {
	l := Layer{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return l, nil
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(hdr.Name, "./"), "/")
		l[name] = LayerEntry{Name: name, Type: hdr.Typeflag, Link: hdr.Linkname}
	}
}

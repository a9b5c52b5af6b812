//go:build e2e

package e2e

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Rootfs is an image filesystem assembled from host files. It is written as
// a tar stream for `docker import`, which is how the suite makes images
// without a registry or a Dockerfile build (BuildKit would need base images).
type Rootfs struct {
	entries map[string]rootfsEntry // by absolute image path
}

type rootfsEntry struct {
	hostPath string // regular file: where its content comes from
	link     string // symlink: its target
	mode     os.FileMode
}

// NewRootfs returns an empty image filesystem.
func NewRootfs() *Rootfs { return &Rootfs{entries: map[string]rootfsEntry{}} }

// AddFile puts the content of hostPath (symlinks followed) at imagePath.
func (r *Rootfs) AddFile(imagePath, hostPath string, mode os.FileMode) {
	r.entries[path.Clean(imagePath)] = rootfsEntry{hostPath: hostPath, mode: mode}
}

// AddSymlink puts a symlink to target at imagePath.
func (r *Rootfs) AddSymlink(imagePath, target string) {
	r.entries[path.Clean(imagePath)] = rootfsEntry{link: target, mode: 0o777}
}

// AddBinary puts the host executable hostPath at imagePath together with
// every shared library ldd resolves for it and the dynamic loader, each at
// the path ldd prints, so the binary runs in an image with nothing else.
func (r *Rootfs) AddBinary(run Runner, imagePath, hostPath string) error {
	r.AddFile(imagePath, hostPath, 0o755)
	libs, err := sharedLibraries(run, hostPath)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		// The loader must be executable for the kernel to map it as the
		// interpreter; the libraries keep the same mode as on Debian.
		r.AddFile(lib, lib, 0o755)
	}
	return nil
}

// sharedLibraries lists the absolute paths ldd prints for binary: resolved
// libraries ("libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)") and the
// loader ("/lib64/ld-linux-x86-64.so.2 (0x...)"). The vDSO has no file and a
// static binary has no libraries.
func sharedLibraries(run Runner, binary string) ([]string, error) {
	res := run.Run(30*time.Second, "ldd", binary)
	if !res.OK() {
		// ldd exits 1 on a static executable ("not a dynamic executable").
		if strings.Contains(res.Out, "not a dynamic executable") || strings.Contains(res.Out, "statically linked") {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s failed:\n%s", binary, res)
	}
	var libs []string
	sc := bufio.NewScanner(strings.NewReader(res.Out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd %s: unresolved library: %s", binary, line)
		}
		if _, after, ok := strings.Cut(line, "=>"); ok {
			line = strings.TrimSpace(after)
		}
		p, _, _ := strings.Cut(line, " ")
		if strings.HasPrefix(p, "/") {
			libs = append(libs, p)
		}
	}
	if len(libs) == 0 && !strings.Contains(res.Out, "statically linked") {
		return nil, fmt.Errorf("ldd %s printed no library:\n%s", binary, res.Out)
	}
	return libs, nil
}

// WriteTar writes the filesystem as a tar stream: parent directories first
// (mode 0755, owned by root), entries sorted, fixed timestamps.
func (r *Rootfs) WriteTar(w io.Writer) error {
	dirs := map[string]bool{}
	for p := range r.entries {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	names := make([]string, 0, len(dirs)+len(r.entries))
	for d := range dirs {
		if _, clash := r.entries[d]; clash {
			return fmt.Errorf("rootfs: %s is both a directory and a file", d)
		}
		names = append(names, d)
	}
	for p := range r.entries {
		names = append(names, p)
	}
	// Sorting by path puts every directory before its contents.
	sort.Strings(names)

	mtime := time.Date(2026, 1, 14, 9, 0, 0, 0, time.UTC)
	tw := tar.NewWriter(w)
	for _, name := range names {
		rel := strings.TrimPrefix(name, "/")
		if dirs[name] {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755, ModTime: mtime}); err != nil {
				return err
			}
			continue
		}
		e := r.entries[name]
		if e.link != "" {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: rel, Linkname: e.link, Mode: int64(e.mode), ModTime: mtime}); err != nil {
				return err
			}
			continue
		}
		if err := writeTarFile(tw, rel, e, mtime); err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeTarFile(tw *tar.Writer, name string, e rootfsEntry, mtime time.Time) error {
	f, err := os.Open(e.hostPath)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("rootfs: %s is not a regular file", e.hostPath)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: fi.Size(), Mode: int64(e.mode), ModTime: mtime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// Image describes one image the suite imports.
type Image struct {
	// Tags are the names it gets; the first is the one imported.
	Tags []string
	// Changes are Dockerfile instructions for `docker import --change`.
	Changes []string
	// Rootfs is its whole filesystem (one layer).
	Rootfs *Rootfs
}

// Import writes the image's rootfs to a tar file in dir and imports it into
// the daemon that docker reaches, under every tag.
func (img Image) Import(docker Runner, dir string) error {
	tarPath := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(img.Tags[0])+".tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	if err := img.Rootfs.WriteTar(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tarPath, err)
	}
	if err := f.Close(); err != nil {
		return err
	}

	args := []string{"import"}
	for _, c := range img.Changes {
		args = append(args, "--change", c)
	}
	args = append(args, tarPath, img.Tags[0])
	if res := docker.Run(2*time.Minute, "docker", args...); !res.OK() {
		return fmt.Errorf("import %s:\n%s", img.Tags[0], res)
	}
	for _, tag := range img.Tags[1:] {
		if res := docker.Run(30*time.Second, "docker", "tag", img.Tags[0], tag); !res.OK() {
			return fmt.Errorf("tag %s:\n%s", tag, res)
		}
	}
	return nil
}

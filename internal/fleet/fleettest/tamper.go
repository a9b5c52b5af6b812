// Package fleettest helps tests of bundle distribution: it does to a
// bundle what an attacker between the build and the hosts would do.
package fleettest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Tamper rewrites with edit the first file of the gzipped tar bundle raw
// whose name ends in suffix, and keeps everything else, its signature
// included. It fails when no file matches.
func Tamper(raw []byte, suffix string, edit func([]byte) []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	found := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		if !found && strings.HasSuffix(hdr.Name, suffix) {
			content, found = edit(content), true
			hdr.Size = int64(len(content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(content); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, fmt.Errorf("no file ending in %s in the bundle", suffix)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

package imageindex

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// layerPaths returns the image's layer files, bottom first: from
// manifest.json, which both layouts dockerd writes carry, else from an OCI
// index.json for exports made by other tools.
func (b *builder) layerPaths() ([]string, error) {
	if b.manifest != nil {
		var m []struct{ Layers []string }
		if err := json.Unmarshal(b.manifest, &m); err != nil {
			return nil, fmt.Errorf("imageindex: manifest.json: %w", err)
		}
		if len(m) != 1 {
			return nil, fmt.Errorf("imageindex: manifest.json lists %d images, want 1", len(m))
		}
		return m[0].Layers, nil
	}
	if b.index != nil {
		return b.ociLayers()
	}
	return nil, errors.New("imageindex: no manifest.json or index.json in the export")
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type ociDoc struct {
	Manifests []descriptor `json:"manifests"`
	Layers    []descriptor `json:"layers"`
}

// ociLayers walks index.json to the one image manifest whose blob is in the
// export. Indexes may nest (an image index inside the layout's index) and
// may list platforms or attestations that were not exported: those are
// skipped, and more than one candidate is an error rather than a guess.
func (b *builder) ociLayers() ([]string, error) {
	var found [][]descriptor
	var walk func(data []byte, depth int) error
	walk = func(data []byte, depth int) error {
		var doc ociDoc
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		for _, d := range doc.Manifests {
			if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" ||
				(d.Platform != nil && d.Platform.OS == "unknown") {
				continue
			}
			blob, ok := b.blobs[d.Digest]
			if !ok {
				continue
			}
			var sub ociDoc
			if err := json.Unmarshal(blob, &sub); err != nil {
				return fmt.Errorf("blob %s: %w", d.Digest, err)
			}
			switch {
			case sub.Manifests != nil:
				if depth >= 4 {
					return errors.New("indexes nested too deep")
				}
				if err := walk(blob, depth+1); err != nil {
					return err
				}
			case sub.Layers != nil:
				found = append(found, sub.Layers)
			}
		}
		return nil
	}
	if err := walk(b.index, 0); err != nil {
		return nil, fmt.Errorf("imageindex: index.json: %w", err)
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("imageindex: index.json leads to %d image manifests in the export, want 1", len(found))
	}
	var paths []string
	for _, l := range found[0] {
		alg, hex, ok := strings.Cut(l.Digest, ":")
		if !ok || alg == "" || hex == "" || strings.Contains(l.Digest, "/") {
			return nil, fmt.Errorf("imageindex: index.json: bad layer digest %q", l.Digest)
		}
		paths = append(paths, "blobs/"+alg+"/"+hex)
	}
	return paths, nil
}

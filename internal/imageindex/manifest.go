package imageindex

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// image is what the export's manifests say of its one image: its layer
// files, bottom first, and its config file.
type image struct {
	layers []string
	config string // outer path; "" when the manifest names none
}

// image reads the layer files and the config from manifest.json, which
// both layouts dockerd writes carry, else from an OCI index.json for
// exports made by other tools.
func (b *builder) image() (image, error) {
	if b.manifest != nil {
		var m []struct {
			Config string
			Layers []string
		}
		if err := json.Unmarshal(b.manifest, &m); err != nil {
			return image{}, fmt.Errorf("imageindex: manifest.json: %w", err)
		}
		if len(m) != 1 {
			return image{}, fmt.Errorf("imageindex: manifest.json lists %d images, want 1", len(m))
		}
		img := image{layers: m[0].Layers}
		if m[0].Config != "" {
			img.config = outerName(m[0].Config)
		}
		return img, nil
	}
	if b.index != nil {
		return b.ociImage()
	}
	return image{}, errors.New("imageindex: no manifest.json or index.json in the export")
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
	Config    *descriptor  `json:"config"`
	Layers    []descriptor `json:"layers"`
}

// blobPath is where an OCI layout keeps the blob of digest d.
func blobPath(d string) (string, error) {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hex == "" || strings.ContainsAny(d, "/\\") || alg == "." || alg == ".." || hex == "." || hex == ".." {
		return "", fmt.Errorf("bad digest %q", d)
	}
	return "blobs/" + alg + "/" + hex, nil
}

// ociImage walks index.json to the one image manifest whose blob is in the
// export. Indexes may nest (an image index inside the layout's index) and
// may list platforms or attestations that were not exported: those are
// skipped, and more than one candidate is an error rather than a guess.
func (b *builder) ociImage() (image, error) {
	var found []ociDoc
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
			p, err := blobPath(d.Digest)
			if err != nil {
				continue
			}
			blob, ok := b.json[p]
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
				found = append(found, sub)
			}
		}
		return nil
	}
	if err := walk(b.index, 0); err != nil {
		return image{}, fmt.Errorf("imageindex: index.json: %w", err)
	}
	if len(found) != 1 {
		return image{}, fmt.Errorf("imageindex: index.json leads to %d image manifests in the export, want 1", len(found))
	}
	var img image
	for _, l := range found[0].Layers {
		p, err := blobPath(l.Digest)
		if err != nil {
			return image{}, fmt.Errorf("imageindex: index.json: layer: %w", err)
		}
		img.layers = append(img.layers, p)
	}
	if c := found[0].Config; c != nil {
		p, err := blobPath(c.Digest)
		if err != nil {
			return image{}, fmt.Errorf("imageindex: index.json: config: %w", err)
		}
		img.config = p
	}
	return img, nil
}

// diffIDPattern is the only digest dockerd computes for layers.
var diffIDPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// diffIDs returns the diff ID of each layer from the image's config, or
// nil when they are not to be checked (see Options.VerifyDiffIDs).
func (b *builder) diffIDs(img image, verify bool) ([]string, error) {
	ids, err := b.configDiffIDs(img.config)
	if err == nil && len(ids) != len(img.layers) {
		err = fmt.Errorf("the config lists %d diff IDs for %d layers", len(ids), len(img.layers))
	}
	if err == nil {
		for _, id := range ids {
			if !diffIDPattern.MatchString(id) {
				err = fmt.Errorf("the config lists diff ID %q, which is not a sha256 digest", id)
				break
			}
		}
	}
	switch {
	case err == nil:
		return ids, nil
	case verify:
		return nil, fmt.Errorf("imageindex: cannot check the layers: %w", err)
	}
	return nil, nil
}

func (b *builder) configDiffIDs(config string) ([]string, error) {
	if config == "" {
		return nil, errors.New("the manifest names no config")
	}
	data, ok := b.json[config]
	if !ok {
		return nil, fmt.Errorf("config %s is not in the export", config)
	}
	var c struct {
		RootFS *struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", config, err)
	}
	if c.RootFS == nil {
		return nil, fmt.Errorf("config %s has no rootfs", config)
	}
	return c.RootFS.DiffIDs, nil
}

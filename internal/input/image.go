package input

import (
	"github.com/moby/moby/api/types/container"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
)

// WithImage is the container a create request describes, as it will run
// in img: WithCreate with the image's config, then WithIndex with its
// files when img has them. The plugin, `authz check` and `authz image` all
// build a container this way.
func (d Document) WithImage(name string, req *container.CreateRequest, img imagefacts.Image) Document {
	d = d.WithCreate(name, req, img.Facts)
	if img.Index != nil {
		d = d.WithIndex(img.Index)
	}
	return d
}

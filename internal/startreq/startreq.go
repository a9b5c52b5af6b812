// Package startreq turns a container start (POST /containers/{id}/start)
// into the create request dockerd stored for that container, from container
// inspect. A start is where the container really runs: deciding it again
// closes the window between a create's image inspect and dockerd's own
// resolution of the image name (a retag in between), and covers containers
// created while the plugin was off or before a policy changed. Where
// internal/createreq reads what a client asks for, startreq reads what the
// daemon kept: the config already merged with the image's, and the exact
// image ID that will run.
package startreq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Container is a created container as dockerd will start it.
type Container struct {
	// ID is the full container ID, Name its name without the leading "/".
	ID   string
	Name string
	// ImageID is the image the container runs (sha256:...), which
	// dockerd fixed at create; Request.Config.Image is the name the user
	// gave.
	ImageID string
	// Request is the stored config and host config, as a create request.
	Request *container.CreateRequest
}

// ErrNotFound means the daemon has no such container: dockerd will refuse
// the start itself.
var ErrNotFound = errors.New("no such container")

// Inspector reads containers from a daemon.
type Inspector interface {
	// Inspect returns the container ref names (an ID, an ID prefix or a
	// name), or an error that says why it cannot.
	Inspect(ctx context.Context, ref string) (Container, error)
}

// DaemonInspector asks a Docker daemon through the Engine API, within
// Timeout. The call passes through this plugin's fast path.
type DaemonInspector struct {
	Client  *client.Client
	Timeout time.Duration
}

// Inspect asks the daemon for ref within the inspector's deadline.
func (d *DaemonInspector) Inspect(ctx context.Context, ref string) (Container, error) {
	if ref == "" {
		return Container{}, fmt.Errorf("%w: the start names no container", ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	res, err := d.Client.ContainerInspect(ctx, ref, client.ContainerInspectOptions{})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Container{}, fmt.Errorf("container inspect of %q did not answer within %s (--daemon-timeout): %w", ref, d.Timeout, context.DeadlineExceeded)
	case cerrdefs.IsNotFound(err):
		return Container{}, fmt.Errorf("%w: %v", ErrNotFound, err)
	case err != nil:
		return Container{}, fmt.Errorf("container inspect of %q: %w", ref, err)
	}
	return fromInspect(res.Container)
}

// fromInspect rebuilds the create request from what the daemon stored. A
// daemon answer without a config is not something dockerd can start, and
// is not trusted as one either.
func fromInspect(c container.InspectResponse) (Container, error) {
	if c.Config == nil || c.HostConfig == nil {
		return Container{}, fmt.Errorf("container inspect of %s returned no config", c.ID)
	}
	return Container{
		ID:      c.ID,
		Name:    strings.TrimPrefix(c.Name, "/"),
		ImageID: c.Image,
		Request: &container.CreateRequest{Config: c.Config, HostConfig: c.HostConfig},
	}, nil
}

// Package netns resolves the container whose network namespace a new
// container joins (HostConfig.NetworkMode "container:<id|name>"), so rules
// can judge a healthcheck sidecar by the app it shares a network with.
package netns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Target is what the daemon says about the container named by a
// "container:" network mode. Found is false when it could not be resolved;
// Err then says why, and rules treat the target as unknown.
type Target struct {
	Found   bool
	ID      string
	Name    string
	Image   string
	Running bool
	// Labels are the container's labels; the input reads the compose
	// project and service from them.
	Labels map[string]string
	Err    string
}

// Resolver resolves container references.
type Resolver interface {
	// Resolve looks ref (a name or an ID) up. It does not fail: an unknown
	// or unreachable target has Found false and Err set.
	Resolve(ctx context.Context, ref string) Target
	// ByPort finds the one running container that publishes or exposes a
	// port; Found is false when none or several do.
	ByPort(ctx context.Context, port string) Target
}

// DaemonResolver asks a Docker daemon with a deadline. Like image inspect,
// the call passes through this plugin's fast path.
type DaemonResolver struct {
	Client  *client.Client
	Timeout time.Duration
}

// Resolve inspects ref with the resolver's deadline.
func (d *DaemonResolver) Resolve(ctx context.Context, ref string) Target {
	if ref == "" {
		return Target{Err: "the network mode names no container"}
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	res, err := d.Client.ContainerInspect(ctx, ref, client.ContainerInspectOptions{})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Target{Err: fmt.Sprintf("container inspect did not answer within %s (--daemon-timeout)", d.Timeout)}
		}
		return Target{Err: "container inspect: " + err.Error()}
	}
	c := res.Container
	t := Target{Found: true, ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), Image: c.Image}
	if c.State != nil {
		t.Running = c.State.Running
	}
	if c.Config != nil {
		// The image as the user named it; c.Image is the resolved ID.
		t.Image = c.Config.Image
		t.Labels = c.Config.Labels
	}
	return t
}

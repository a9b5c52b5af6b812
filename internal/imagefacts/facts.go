// Package imagefacts is the one place the plugin, `authz check` and `authz
// image` learn about an image (Source). Of the three image packages it is
// the one callers use: it asks the daemon's image inspect for the config
// (labels, its own healthcheck, shell, PATH, entrypoint), falls back to what
// the name says for the catalog, and adds the file index that
// internal/imagescan keeps, built by internal/imageindex from the image's
// export. Every daemon call and index wait has a deadline, so a slow or
// absent daemon never blocks a decision.
package imagefacts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Source says where a decision's image facts came from.
const (
	// SourceDaemon means the daemon's image inspect answered.
	SourceDaemon = "daemon"
	// SourceCatalog means the daemon did not answer (image not present,
	// error, deadline), so only name-based facts from the catalog apply.
	SourceCatalog = "catalog"
)

// Facts is what is known about one image. The zero value, with Source set
// to SourceCatalog, is a valid "nothing known beyond the name".
type Facts struct {
	Ref        string
	Repository string
	Tag        string
	Digest     string
	Source     string
	Found      bool
	ID         string
	Labels     map[string]string
	User       string
	Shell      []string
	Env        []string
	WorkingDir string
	Entrypoint []string
	Cmd        []string
	// Healthcheck is the image's own HEALTHCHECK, nil when it has none.
	Healthcheck *container.HealthConfig
	// Err says why the daemon did not answer, when Source is SourceCatalog.
	Err string
	// Missing means the daemon answered that it has no such image (or
	// the request names none): dockerd will refuse the create itself, so
	// the missing facts cannot hide anything.
	Missing bool
}

// Named returns the facts that follow from the reference alone: its
// normalized repository, tag and digest. Docker Hub short names become
// docker.io/library/<name>, as the daemon resolves them.
func Named(ref string) Facts {
	f := Facts{Ref: ref, Source: SourceCatalog}
	if isImageID(ref) {
		return f
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		// Unparsable: nothing to match in the catalog; the daemon will
		// refuse the name anyway.
		return f
	}
	f.Repository = named.Name()
	if t, ok := named.(reference.Tagged); ok {
		f.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		f.Digest = d.Digest().String()
	}
	if f.Tag == "" && f.Digest == "" {
		f.Tag = "latest"
	}
	return f
}

// isImageID reports whether ref is a full image ID ("sha256:<64 hex>" or
// the 64 hex digits alone), which names no repository.
func isImageID(ref string) bool {
	hex := strings.TrimPrefix(ref, "sha256:")
	if len(hex) != 64 {
		return false
	}
	return strings.Trim(hex, "0123456789abcdef") == ""
}

// Inspector looks images up in a daemon.
type Inspector interface {
	// Inspect returns the facts for ref. It does not fail: when the daemon
	// cannot answer, the result has Source SourceCatalog and Err set.
	Inspect(ctx context.Context, ref string) Facts
}

// DaemonInspector asks a Docker daemon through the Engine API.
type DaemonInspector struct {
	Client  *client.Client
	Timeout time.Duration
}

// Inspect asks the daemon for ref with the inspector's deadline.
//
// The daemon routes this call through the authorization plugin that is
// asking, so it must be allowed on the fast path; the plugin's HTTP server
// serves it concurrently with the create request that is waiting for it.
func (d *DaemonInspector) Inspect(ctx context.Context, ref string) Facts {
	f := Named(ref)
	if ref == "" {
		f.Err, f.Missing = "the request names no image", true
		return f
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	res, err := d.Client.ImageInspect(ctx, ref)
	if err != nil {
		switch {
		case cerrdefs.IsNotFound(err):
			f.Err, f.Missing = "image inspect: "+err.Error(), true
		case errors.Is(err, context.DeadlineExceeded):
			f.Err = fmt.Sprintf("image inspect did not answer within %s (--daemon-timeout)", d.Timeout)
		default:
			f.Err = "image inspect: " + err.Error()
		}
		return f
	}
	f.Source = SourceDaemon
	f.Found = true
	f.ID = res.ID
	if c := res.Config; c != nil {
		f.Labels = c.Labels
		f.User = c.User
		f.Shell = c.Shell
		f.Env = c.Env
		f.WorkingDir = c.WorkingDir
		f.Entrypoint = c.Entrypoint
		f.Cmd = c.Cmd
		f.Healthcheck = c.Healthcheck
	}
	return f
}

package imagefacts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/client"

	"github.com/hardened-authz/hardened-authz/internal/imageindex"
)

// Deadlines bound what a Source does for one image. Every caller picks one
// of the two sets below, or sets them from its flags; the flag names appear
// in the errors so that a user knows which knob to turn.
type Deadlines struct {
	// Daemon bounds one call to the daemon (image inspect):
	// --daemon-timeout.
	Daemon time.Duration
	// Scan bounds the wait for an image's file index: --scan-timeout. The
	// scan itself goes on in the background, so a later lookup finds it.
	Scan time.Duration
}

// PluginDeadlines are `authz serve`'s: the plugin holds a Docker API call
// while it waits, so it waits briefly and lets the catalog decide instead.
var PluginDeadlines = Deadlines{Daemon: time.Second, Scan: 2 * time.Second}

// ToolDeadlines are `authz check`'s and `authz image`'s: nothing is held
// while they wait, and the first scan of a large image is worth waiting
// for rather than answering from the name alone.
var ToolDeadlines = Deadlines{Daemon: 10 * time.Second, Scan: 30 * time.Second}

// Validate says which flag holds a deadline that cannot work.
func (d Deadlines) Validate() error {
	var errs []error
	if d.Daemon <= 0 {
		errs = append(errs, fmt.Errorf("--daemon-timeout %s: must be positive (default %s)", d.Daemon, PluginDeadlines.Daemon))
	}
	if d.Scan <= 0 {
		errs = append(errs, fmt.Errorf("--scan-timeout %s: must be positive (default %s)", d.Scan, PluginDeadlines.Scan))
	}
	return errors.Join(errs...)
}

// Indexer answers from an image's own files by image ID, scanning it if
// needed. imagescan.Scanner is the one in production.
type Indexer interface {
	Lookup(ctx context.Context, id string) (*imageindex.Index, error)
}

// Image is everything known of one image reference: its config and name
// facts, and its file index when one could be had.
type Image struct {
	Facts
	// Index is the image's files; nil when there is no indexer, the image
	// is not in the daemon, or IndexErr says why.
	Index *imageindex.Index
	// IndexErr says why an image the daemon has has no index.
	IndexErr string
}

// Source is the one way the plugin, `authz check` and `authz image` learn
// about an image: image inspect, then the image's file index, each under
// its deadline. A nil Inspector means the name and the catalog alone
// decide (no daemon); a nil Index means no file facts.
type Source struct {
	Inspector Inspector
	Index     Indexer
	// Deadlines.Scan bounds the index wait; Deadlines.Daemon is the
	// Inspector's own (NewSource passes it on).
	Deadlines Deadlines
}

// NewSource returns a Source that asks the daemon behind c and the
// indexer ix (nil for none) within d.
func NewSource(c *client.Client, ix Indexer, d Deadlines) *Source {
	return &Source{Inspector: &DaemonInspector{Client: c, Timeout: d.Daemon}, Index: ix, Deadlines: d}
}

// Image returns what is known of ref. It does not fail: what could not be
// learnt is said in Err (inspect) and IndexErr (files), and the policies
// fall back to the catalog for it.
func (s *Source) Image(ctx context.Context, ref string) Image {
	if s == nil || s.Inspector == nil {
		return Image{Facts: Named(ref)}
	}
	img := Image{Facts: s.Inspector.Inspect(ctx, ref)}
	if !img.Found || s.Index == nil {
		return img
	}
	timeout := s.Deadlines.Scan
	if timeout <= 0 {
		timeout = PluginDeadlines.Scan
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ix, err := s.Index.Lookup(sctx, img.ID)
	switch {
	case err == nil:
		img.Index = ix
	case errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		img.IndexErr = fmt.Sprintf("%v (not ready within --scan-timeout %s)", err, timeout)
	default:
		img.IndexErr = err.Error()
	}
	return img
}

// Inspect answers with the Source's inspect facts alone, so a Source can
// stand where an Inspector is asked for (the image a pull named).
func (s *Source) Inspect(ctx context.Context, ref string) Facts {
	if s == nil || s.Inspector == nil {
		return Named(ref)
	}
	return s.Inspector.Inspect(ctx, ref)
}

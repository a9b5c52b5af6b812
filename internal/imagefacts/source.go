package imagefacts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/client"

	"github.com/hardened-authz/hardened-authz/internal/imageindex"
	"github.com/hardened-authz/hardened-authz/internal/imagescan"
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
	// IndexFailed is true when the image's scan failed (rather than being
	// still under way): a retry in seconds will not help until the
	// scanner's backoff lets it try again.
	IndexFailed bool
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
	return s.lookup(ctx, sctx, img, fmt.Sprintf(" (not ready within --scan-timeout %s)", timeout))
}

// AwaitIndex waits for img's index until ctx is done, for a decision that
// cannot be made without the image's files; img is returned as it is when
// it has its index, or has nothing to index.
func (s *Source) AwaitIndex(ctx context.Context, img Image) Image {
	if s == nil || s.Index == nil || !img.Found || img.Index != nil {
		return img
	}
	return s.lookup(ctx, ctx, img, " (not ready within the decision's deadline, --decision-timeout)")
}

// lookup asks the indexer for img's files within wctx; late is what the
// error says when wctx, and not ctx, ran out.
func (s *Source) lookup(ctx, wctx context.Context, img Image, late string) Image {
	ix, err := s.Index.Lookup(wctx, img.ID)
	img.IndexFailed = errors.Is(err, imagescan.ErrScanFailed)
	switch {
	case err == nil:
		img.Index, img.IndexErr = ix, ""
	case errors.Is(wctx.Err(), context.DeadlineExceeded) && (ctx == wctx || ctx.Err() == nil):
		img.IndexErr = err.Error() + late
	default:
		img.IndexErr = err.Error()
	}
	return img
}

// ImageByID returns what is known of the image with ID id, which a
// container created from name runs: the daemon's config and files of that
// exact image, and the name's catalog facts.
func (s *Source) ImageByID(ctx context.Context, id, name string) Image {
	img := s.Image(ctx, id)
	n := Named(name)
	img.Ref, img.Repository, img.Tag, img.Digest = n.Ref, n.Repository, n.Tag, n.Digest
	return img
}

// Indexed reports whether the Source has the image's files to offer: a
// decision that needs them, and has none, then knows something is missing.
func (s *Source) Indexed() bool { return s != nil && s.Index != nil }

// Inspect answers with the Source's inspect facts alone, so a Source can
// stand where an Inspector is asked for (the image a pull named).
func (s *Source) Inspect(ctx context.Context, ref string) Facts {
	if s == nil || s.Inspector == nil {
		return Named(ref)
	}
	return s.Inspector.Inspect(ctx, ref)
}

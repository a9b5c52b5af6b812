// Package pluginref resolves the plugin that a /plugins/{name}/… request
// names, the way dockerd will, so that HA090 can recognise this plugin
// when a request names it by ID or ID prefix rather than by name.
//
// dockerd resolves every such reference with one function (moby's plugin
// Store.GetV2Plugin, resolvePluginID, the same in 20.10 and today): a full
// 64-hex ID as is; otherwise a reference that parses
// (reference.ParseNormalizedNamed, never a digest) by its familiar name
// with ":latest" added; otherwise as a unique ID prefix. Plugin inspect
// (GET /plugins/{name}/json) goes through the same function, so asking the
// daemon is exact: the resolver never reimplements the lookup.
//
// The inspect call itself passes through this plugin as a plugin.inspect
// request: resolve only the verbs HA090 guards (Guarded), or the decision
// would wait on itself.
package pluginref

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Lookup outcomes, as the input document's plugin.lookup spells them.
const (
	// Found: the daemon resolved the reference to one plugin.
	Found = "found"
	// NotFound: the daemon has no plugin by that reference, so the request
	// itself will fail with "not found" too.
	NotFound = "not_found"
	// Failed: the daemon gave no answer (deadline, error, an ambiguous ID
	// prefix). The reference may name any plugin, this one included.
	Failed = "failed"
)

// DefaultTimeout bounds one plugin inspect when DaemonResolver.Timeout is
// zero.
const DefaultTimeout = time.Second

// maxRef is longer than any reference dockerd resolves (a 255-character
// name plus a 128-character tag): nothing longer is sent to the daemon.
const maxRef = 1024

// Target is what the daemon says of one plugin reference.
type Target struct {
	// Ref is the reference as the request wrote it.
	Ref string
	// Lookup is Found, NotFound or Failed.
	Lookup string
	// ID (64 hex) and Name (familiar, with its tag: "acme/x:latest") are
	// set when Lookup is Found.
	ID   string
	Name string
	// Err says why the lookup did not find a plugin, for the deny message
	// and the log.
	Err string
}

// Resolver resolves plugin references as dockerd does.
type Resolver interface {
	// Resolve looks ref up. It does not fail: every outcome is a Target.
	Resolve(ctx context.Context, ref string) Target
}

// Guarded reports whether a plugin route verb (route.Route.PluginVerb)
// takes a plugin out of dockerd's authorization chain, which is when
// HA090 needs the reference resolved. It mirrors the Rego library's
// plugin_change_actions.
func Guarded(verb string) bool {
	switch verb {
	case "disable", "remove", "set", "upgrade":
		return true
	}
	return false
}

// idLike is a lower-case hex string of an ID's length or shorter: what
// dockerd can take as a full ID or an ID prefix.
var idLike = regexp.MustCompile(`^[0-9a-f]{1,64}$`)

// LooksLikeID reports whether dockerd may read ref as a plugin ID or ID
// prefix. HA090 refuses such a reference when it cannot be resolved.
func LooksLikeID(ref string) bool { return idLike.MatchString(ref) }

// DaemonResolver asks a Docker daemon with plugin inspect, under a
// deadline.
type DaemonResolver struct {
	Client *client.Client
	// Timeout bounds one inspect; zero means DefaultTimeout.
	Timeout time.Duration
}

// Resolve inspects ref with the resolver's deadline.
func (d *DaemonResolver) Resolve(ctx context.Context, ref string) Target {
	t := Target{Ref: ref}
	if !resolvable(ref) {
		t.Lookup = NotFound
		t.Err = fmt.Sprintf("%.100q is neither a plugin ID nor a plugin reference", ref)
		return t
	}
	timeout := cmp.Or(d.Timeout, DefaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := d.Client.PluginInspect(ctx, ref, client.PluginInspectOptions{})
	switch {
	case err == nil && len(res.Plugin.ID) == 64 && LooksLikeID(res.Plugin.ID):
		t.Lookup, t.ID, t.Name = Found, res.Plugin.ID, res.Plugin.Name
	case err == nil:
		t.Lookup, t.Err = Failed, fmt.Sprintf("plugin inspect answered without a plugin ID (%.80q)", res.Plugin.ID)
	case cerrdefs.IsNotFound(err):
		t.Lookup, t.Err = NotFound, "plugin inspect: "+err.Error()
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		t.Lookup, t.Err = Failed, fmt.Sprintf("plugin inspect did not answer within %s (--daemon-timeout)", timeout)
	default:
		t.Lookup, t.Err = Failed, "plugin inspect: "+err.Error()
	}
	return t
}

// resolvable reports whether ref is something dockerd could resolve, and
// so worth asking about. Every full ID and every reference in the
// distribution grammar is made of these characters, has no empty, "." or
// ".." path segment, and so reaches the daemon unchanged through the
// client (which trims spaces, path.Joins and escapes). dockerd answers
// "not found" to anything else without looking.
func resolvable(ref string) bool {
	if ref == "" || len(ref) > maxRef {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("._-/:@+[]", c) >= 0:
		default:
			return false
		}
	}
	for seg := range strings.SplitSeq(ref, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

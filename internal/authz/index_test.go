package authz

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/imageindex"
	"github.com/hardened-authz/hardened-authz/internal/imagescan"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/netns"
)

// staticIndex answers every image with the same files, or with err.
type staticIndex struct {
	ix  *imageindex.Index
	err error
}

func (s staticIndex) Lookup(context.Context, string) (*imageindex.Index, error) { return s.ix, s.err }

func files(paths map[string]imageindex.Entry) *imageindex.Index {
	return imageindex.FromEntries(paths)
}

var (
	exe = imageindex.Entry{Type: imageindex.TypeRegular, Mode: 0o755}
	dir = imageindex.Entry{Type: imageindex.TypeDir, Mode: 0o755}
)

func TestIndexFactsDecide(t *testing.T) {
	found := imagefacts.Named("acme/api:1.4")
	found.Source, found.Found, found.ID = imagefacts.SourceDaemon, true, "sha256:"+strings.Repeat("1", 64)
	node := imagefacts.Named("dhi.io/node:24")
	node.Source, node.Found, node.ID = imagefacts.SourceDaemon, true, "sha256:"+strings.Repeat("3", 64)
	appOnly := files(map[string]imageindex.Entry{"/app": exe})
	optCurl := files(map[string]imageindex.Entry{"/opt/tools/bin": dir, "/opt/tools/bin/curl": exe})
	shell := func(test ...string) map[string]any {
		return map[string]any{"Image": "acme/api:1.4", "Env": []string{"PATH=/opt/tools/bin"}, "Healthcheck": map[string]any{"Test": test}}
	}
	for _, tt := range []struct {
		name  string
		index staticIndex
		body  map[string]any
		deny  string
	}{
		{"no shell in an image no catalog knows", staticIndex{ix: appOnly}, shell("CMD-SHELL", "true"), "HA001"},
		{"curl missing", staticIndex{ix: appOnly}, shell("CMD", "curl", "-f", "http://localhost:3000/"), "HA002"},
		{"curl on the image's PATH", staticIndex{ix: optCurl}, shell("CMD", "curl", "-f", "http://localhost:3000/"), ""},
		{"no index: a healthcheck is never allowed unchecked", staticIndex{err: errors.New("still being scanned")}, shell("CMD-SHELL", "true"), RuleFactsMissing},
		{"no index: no healthcheck, nothing to check", staticIndex{err: errors.New("still being scanned")}, map[string]any{"Image": "acme/api:1.4"}, ""},
		{"no index: the catalog's verdict stands", staticIndex{err: errors.New("scan failed")}, map[string]any{"Image": "dhi.io/node:24", "Healthcheck": map[string]any{"Test": []string{"CMD-SHELL", "true"}}}, "HA001"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthorizer(t, namesOnly{"acme/api:1.4": found, "dhi.io/node:24": node})
			a.Images.Index = tt.index
			res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "api", tt.body))
			if tt.deny == "" && !res.Allow {
				t.Fatalf("denied: %s", res.Msg)
			}
			if tt.deny != "" && (res.Allow || !strings.HasPrefix(res.Msg, tt.deny)) {
				t.Fatalf("want %s, got allow=%v %q", tt.deny, res.Allow, res.Msg)
			}
		})
	}
}

// warmRecorder records what AuthZRes asks the warmer to warm.
type warmRecorder struct {
	warmed chan string
}

func (w warmRecorder) Warm(id string)          { w.warmed <- id }
func (w warmRecorder) WarmAll(context.Context) { w.warmed <- "all" }

func TestPullsAndLoadsWarmTheIndex(t *testing.T) {
	pulled := imagefacts.Named("dhi.io/node:24")
	pulled.Found, pulled.ID = true, "sha256:"+strings.Repeat("2", 64)
	a := newAuthorizer(t, namesOnly{"dhi.io/node:24": pulled})
	w := warmRecorder{warmed: make(chan string, 4)}
	a.Warmer = w
	for _, tt := range []struct {
		uri    string
		status int
		want   string
	}{
		{"/v1.41/images/create?fromImage=dhi.io%2Fnode&tag=24", 200, pulled.ID},
		{"/v1.41/images/create?fromSrc=-&repo=acme%2Fapi", 200, "all"},
		{"/v1.41/images/load?quiet=1", 200, "all"},
		{"/v1.41/images/create?fromImage=dhi.io%2Fnode&tag=24", 500, ""},
		{"/v1.41/containers/create", 201, ""},
	} {
		res := a.AuthZRes(context.Background(), authorization.Request{RequestMethod: "POST", RequestURI: tt.uri, ResponseStatusCode: tt.status})
		if !res.Allow {
			t.Fatalf("AuthZRes must always allow: %+v", res)
		}
		wait := 2 * time.Second
		if tt.want == "" {
			wait = 100 * time.Millisecond // AuthZRes starts no goroutine for these
		}
		select {
		case got := <-w.warmed:
			if got != tt.want {
				t.Errorf("%s (%d): warmed %q, want %q", tt.uri, tt.status, got, tt.want)
			}
		case <-time.After(wait):
			if tt.want != "" {
				t.Errorf("%s (%d): nothing warmed, want %q", tt.uri, tt.status, tt.want)
			}
		}
	}
}

// portOwner resolves every port to one app and records what was asked.
type portOwner struct{ asked chan string }

func (p portOwner) Resolve(_ context.Context, ref string) netns.Target {
	p.asked <- "resolve " + ref
	return netns.Target{Found: true, Name: "seed-app-1", Labels: map[string]string{input.LabelComposeProject: "seed", input.LabelComposeService: "app"}}
}

func (p portOwner) ByPort(_ context.Context, port string) netns.Target {
	p.asked <- "port " + port
	return netns.Target{Found: true, Name: "web"}
}

func TestNetworkFactsNameTheApp(t *testing.T) {
	a := newAuthorizer(t, nil)
	owner := portOwner{asked: make(chan string, 4)}
	a.Containers = owner
	sidecar := map[string]any{
		"Image":       "dhi.io/curl:8-debian13-dev",
		"Entrypoint":  []string{"sleep", "infinity"},
		"Healthcheck": map[string]any{"Test": []string{"CMD", "curl", "-f", "http://localhost:3000/health"}},
	}
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "checker", sidecar))
	if res.Allow || !strings.HasPrefix(res.Msg, "HA003") || !strings.Contains(res.Msg, "--network container:web") {
		t.Fatalf("want HA003 naming the port's owner, got allow=%v %q", res.Allow, res.Msg)
	}
	if got := <-owner.asked; got != "port 3000" {
		t.Errorf("asked %q, want the probe's port", got)
	}
	sidecar["HostConfig"] = map[string]any{"NetworkMode": "container:seed-app-1"}
	if res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "checker", sidecar)); !res.Allow {
		t.Fatalf("a sidecar in the app's namespace was denied: %s", res.Msg)
	}
	if got := <-owner.asked; got != "resolve seed-app-1" {
		t.Errorf("asked %q, want the network target resolved", got)
	}
	// An app probing its own localhost is not a sidecar: no daemon call.
	app := map[string]any{"Image": "dhi.io/curl:8-debian13-dev", "Cmd": []string{"/app"},
		"Healthcheck": map[string]any{"Test": []string{"CMD", "curl", "-f", "http://localhost:3000/health"}}}
	a.AuthZReq(context.Background(), authztest.CreateCall(t, "web", app))
	select {
	case got := <-owner.asked:
		t.Errorf("an ordinary app's create asked the daemon: %q", got)
	default:
	}
}

// slowIndex has the files only after ready is closed.
type slowIndex struct {
	ix    *imageindex.Index
	ready chan struct{}
}

func (s slowIndex) Lookup(ctx context.Context, _ string) (*imageindex.Index, error) {
	select {
	case <-s.ready:
		return s.ix, nil
	case <-ctx.Done():
		return nil, errors.New("image index unavailable: still being scanned")
	}
}

// A create whose healthcheck depends on the image's files waits for them
// past --scan-timeout, within its own deadline, rather than being decided
// without them.
func TestCreatesWaitForTheFilesWithinTheirDeadline(t *testing.T) {
	found := imagefacts.Named("acme/api:1.4")
	found.Source, found.Found, found.ID = imagefacts.SourceDaemon, true, "sha256:"+strings.Repeat("1", 64)
	ready := make(chan struct{})
	a := newAuthorizer(t, namesOnly{"acme/api:1.4": found})
	a.Images.Index = slowIndex{ix: files(map[string]imageindex.Entry{"/app": exe}), ready: ready}
	a.Images.Deadlines.Scan = 20 * time.Millisecond
	a.Timeout = 5 * time.Second
	time.AfterFunc(200*time.Millisecond, func() { close(ready) })
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "api", map[string]any{"Image": "acme/api:1.4",
		"Healthcheck": map[string]any{"Test": []string{"CMD", "curl", "-f", "http://localhost:3000/"}}}))
	if res.Allow || !strings.HasPrefix(res.Msg, "HA002") {
		t.Fatalf("want HA002 from the image's files, got allow=%v %q", res.Allow, res.Msg)
	}

	// Files that never come: denied before the decision's deadline.
	a.Images.Index = slowIndex{ready: make(chan struct{})}
	a.Timeout = time.Second
	start := time.Now()
	res = a.AuthZReq(context.Background(), authztest.CreateCall(t, "api", map[string]any{"Image": "acme/api:1.4",
		"Healthcheck": map[string]any{"Test": []string{"CMD", "/app", "health"}}}))
	if elapsed := time.Since(start); elapsed > a.Timeout {
		t.Errorf("decided in %v, past its %v deadline", elapsed, a.Timeout)
	}
	if res.Allow || !strings.HasPrefix(res.Msg, RuleFactsMissing) || !strings.Contains(res.Msg, "acme/api:1.4") || !strings.Contains(res.Msg, "Retry") {
		t.Fatalf("want a retryable %s naming the image, got allow=%v %q", RuleFactsMissing, res.Allow, res.Msg)
	}
	if missing, _ := a.Stats(); missing != 1 {
		t.Errorf("facts-missing denials counted %d, want 1", missing)
	}

	// A scan that failed says so, and why, rather than "retry".
	a.Images.Index = staticIndex{err: &imagescan.ScanError{ID: found.ID, Err: errors.New("layer 1 of 1: no reading matches its diff ID"), Failures: 3, RetryAt: time.Now().Add(time.Minute)}}
	res = a.AuthZReq(context.Background(), authztest.CreateCall(t, "api", map[string]any{"Image": "acme/api:1.4",
		"Healthcheck": map[string]any{"Test": []string{"CMD", "/app", "health"}}}))
	if res.Allow || !strings.HasPrefix(res.Msg, RuleFactsMissing) || !strings.Contains(res.Msg, "could not be indexed") || !strings.Contains(res.Msg, "diff ID") {
		t.Fatalf("want %s saying the scan failed and why, got allow=%v %q", RuleFactsMissing, res.Allow, res.Msg)
	}
}

// An image the daemon says it does not have cannot be created: nothing is
// hidden by its missing files, and dockerd's own error is the clearer one.
func TestMissingImagesAreLeftToDockerd(t *testing.T) {
	gone := imagefacts.Named("acme/gone:1")
	gone.Missing, gone.Err = true, "image inspect: No such image: acme/gone:1"
	a := newAuthorizer(t, namesOnly{"acme/gone:1": gone})
	a.Images.Index = staticIndex{err: errors.New("never asked")}
	res := a.AuthZReq(context.Background(), authztest.CreateCall(t, "x", map[string]any{"Image": "acme/gone:1",
		"Healthcheck": map[string]any{"Test": []string{"CMD", "/app", "health"}}}))
	if !res.Allow {
		t.Fatalf("denied: %s", res.Msg)
	}
}

package pluginref

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distribution/reference"

	"github.com/hardened-authz/hardened-authz/internal/testdaemon"
)

var (
	ownID   = "3f2a9c" + strings.Repeat("0", 58)
	otherID = "3f2b11" + strings.Repeat("1", 58)
)

// plugins answers plugin inspect as dockerd 20.10's plugin store does
// (resolvePluginID): full ID, then familiar name with :latest, then unique
// ID prefix. It records the paths it was asked.
type plugins struct {
	mu    sync.Mutex
	asked []string
}

func (p *plugins) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.asked = append(p.asked, r.URL.Path)
	p.mu.Unlock()
	ref, ok := strings.CutPrefix(r.URL.Path, "/v1.41/plugins/")
	ref, ok2 := strings.CutSuffix(ref, "/json")
	if !ok || !ok2 || r.Method != http.MethodGet {
		apiError(w, http.StatusNotFound, "page not found")
		return
	}
	store := map[string]string{ownID: "acme/hardened-authz:latest", otherID: "vieux/sshfs:latest"}
	name := ref
	if !strings.Contains(name, ":") {
		name += ":latest"
	}
	var found []string
	for id, n := range store {
		if id == ref || n == name {
			found = []string{id}
			break
		}
		if strings.HasPrefix(id, ref) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		apiError(w, http.StatusNotFound, `plugin \"`+ref+`\" not found`)
	case 1:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"Id":"` + found[0] + `","Name":"` + store[found[0]] + `","Enabled":true}`))
	default:
		apiError(w, http.StatusBadRequest, `multiple plugins found for \"`+ref+`\"`)
	}
}

// apiError answers as dockerd's API does: JSON with a message.
func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(`{"message":"` + msg + `"}`))
}

func TestResolve(t *testing.T) {
	p := &plugins{}
	r := &DaemonResolver{Client: testdaemon.Serve(t, p.serve), Timeout: 2 * time.Second}
	tests := []struct {
		ref, lookup, id, name, err string
	}{
		{ownID, Found, ownID, "acme/hardened-authz:latest", ""},
		{"3f2a", Found, ownID, "acme/hardened-authz:latest", ""},
		{"acme/hardened-authz", Found, ownID, "acme/hardened-authz:latest", ""},
		{"vieux/sshfs:latest", Found, otherID, "vieux/sshfs:latest", ""},
		{"3f2b", Found, otherID, "vieux/sshfs:latest", ""},
		// Both IDs start with 3f2: dockerd refuses to choose, and so
		// would the request itself, but a moment later it might not.
		{"3f2", Failed, "", "", "multiple plugins found"},
		{"ffff", NotFound, "", "", `plugin "ffff" not found`},
		{"hardened-authz", NotFound, "", "", "not found"},
	}
	for _, tt := range tests {
		got := r.Resolve(context.Background(), tt.ref)
		if got.Ref != tt.ref || got.Lookup != tt.lookup || got.ID != tt.id || got.Name != tt.name || !strings.Contains(got.Err, tt.err) {
			t.Errorf("Resolve(%q) = %+v; want lookup %s id %q name %q err containing %q", tt.ref, got, tt.lookup, tt.id, tt.name, tt.err)
		}
		if tt.lookup == Found && got.Err != "" {
			t.Errorf("Resolve(%q): found with an error %q", tt.ref, got.Err)
		}
	}
	// The reference reaches the daemon as the request wrote it.
	if got := p.asked[2]; got != "/v1.41/plugins/acme/hardened-authz/json" {
		t.Errorf("asked %q", got)
	}
}

// References that dockerd cannot resolve are not sent: the client would
// clean or trim them into another reference.
func TestResolveNeverAsksAboutOtherStrings(t *testing.T) {
	p := &plugins{}
	r := &DaemonResolver{Client: testdaemon.Serve(t, p.serve)}
	for _, ref := range []string{
		"", "acme/../3f2a", "./3f2a", "3f2a/", "/3f2a", "acme//3f2a", " 3f2a", "3f2a\n",
		"3f2a?x", "3f2a#x", "3f2a%2F", strings.Repeat("a", maxRef+1),
	} {
		got := r.Resolve(context.Background(), ref)
		if got.Lookup != NotFound || got.Err == "" || got.ID != "" {
			t.Errorf("Resolve(%q) = %+v; want not_found with a reason", ref, got)
		}
	}
	if len(p.asked) != 0 {
		t.Errorf("the daemon was asked %q", p.asked)
	}
	for _, ref := range []string{"3f2a", "acme/x:1.0", "registry.example:5000/acme/x:v1", "[::1]:5000/x", "x@sha256:" + ownID} {
		if !resolvable(ref) {
			t.Errorf("resolvable(%q) = false", ref)
		}
	}
}

func TestResolveNeverOutlivesItsDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c := testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	start := time.Now()
	got := (&DaemonResolver{Client: c, Timeout: 100 * time.Millisecond}).Resolve(context.Background(), "3f2a")
	if got.Lookup != Failed || !strings.Contains(got.Err, "did not answer within 100ms") {
		t.Fatalf("hanging daemon: %+v", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Resolve took %s with a 100ms deadline", d)
	}
}

func TestResolveOddAnswers(t *testing.T) {
	for _, tt := range []struct {
		name, status, body, lookup string
	}{
		{"no ID", "200", `{"Name":"x:latest"}`, Failed},
		{"short ID", "200", `{"Id":"3f2a","Name":"x:latest"}`, Failed},
		{"not JSON", "200", `{{{`, Failed},
		{"server error", "500", `{"message":"boom"}`, Failed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tt.status != "200" {
					w.WriteHeader(http.StatusInternalServerError)
				}
				w.Write([]byte(tt.body))
			})
			got := (&DaemonResolver{Client: c, Timeout: time.Second}).Resolve(context.Background(), "3f2a")
			if got.Lookup != tt.lookup || got.Err == "" || got.ID != "" {
				t.Errorf("%s: %+v", tt.name, got)
			}
		})
	}
}

func TestGuardedAndLooksLikeID(t *testing.T) {
	for verb, want := range map[string]bool{"disable": true, "remove": true, "set": true, "upgrade": true,
		"enable": false, "push": false, "inspect": false, "other": false, "": false} {
		if Guarded(verb) != want {
			t.Errorf("Guarded(%q) = %v", verb, !want)
		}
	}
	for ref, want := range map[string]bool{"3f2a": true, "0": true, ownID: true, ownID + "0": false,
		"3F2A": false, "": false, "hardened-authz": false, "cafe:latest": false} {
		if LooksLikeID(ref) != want {
			t.Errorf("LooksLikeID(%q) = %v", ref, !want)
		}
	}
}

// FuzzResolvable: every reference dockerd can resolve is asked about (the
// grammar is distribution's, which moby uses), and what is asked reaches
// the daemon unchanged through the client's path handling.
func FuzzResolvable(f *testing.F) {
	for _, s := range []string{"3f2a", ownID, "acme/hardened-authz:latest", "registry.example:5000/a/b:v1",
		"[::1]:5000/x", "a/../b", "x@sha256:" + ownID + ownID, " x", "A/b", "a__b-c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		_, err := reference.ParseNormalizedNamed(ref)
		if (err == nil || fullID.MatchString(ref)) && len(ref) <= maxRef && !resolvable(ref) {
			t.Fatalf("dockerd can resolve %q, but it would not be asked about", ref)
		}
		if !resolvable(ref) {
			return
		}
		if p := "/v1.41/plugins/" + ref + "/json"; path.Join("/v1.41", "/plugins/"+strings.TrimSpace(ref)+"/json") != p {
			t.Fatalf("the client would send %q as another reference", ref)
		}
		u := (&url.URL{Path: "/plugins/" + ref + "/json"}).String()
		back, err := url.ParseRequestURI(u)
		if err != nil || back.Path != "/plugins/"+ref+"/json" {
			t.Fatalf("%q is sent as %q and read back as %v (%v)", ref, u, back, err)
		}
	})
}

// fullID is moby's plugin store validFullID.
var fullID = regexp.MustCompile(`^([a-f0-9]{64})$`)

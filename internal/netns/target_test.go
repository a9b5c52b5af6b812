package netns

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hardened-authz/hardened-authz/internal/testdaemon"
)

func TestResolve(t *testing.T) {
	id := strings.Repeat("f", 64)
	c := testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/containers/"+id+"/json") {
			http.Error(w, `{"message":"No such container"}`, http.StatusNotFound)
			return
		}
		w.Write([]byte(`{"Id":"` + id + `","Name":"/seed-app-1","Image":"sha256:abc","State":{"Running":true},
			"Config":{"Image":"dhi.io/node:25","Labels":{"com.docker.compose.project":"seed","com.docker.compose.service":"app"}}}`))
	})
	r := &DaemonResolver{Client: c, Timeout: 2 * time.Second}
	got := r.Resolve(context.Background(), id)
	want := Target{Found: true, ID: id, Name: "seed-app-1", Image: "dhi.io/node:25", Running: true,
		Labels: map[string]string{"com.docker.compose.project": "seed", "com.docker.compose.service": "app"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %+v\nwant      %+v", got, want)
	}
	if miss := r.Resolve(context.Background(), "nope"); miss.Found || !strings.Contains(miss.Err, "No such container") {
		t.Errorf("unknown target = %+v", miss)
	}
	if empty := r.Resolve(context.Background(), ""); empty.Found || empty.Err == "" {
		t.Errorf("empty target = %+v", empty)
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
	got := (&DaemonResolver{Client: c, Timeout: 100 * time.Millisecond}).Resolve(context.Background(), "app")
	if got.Found || !strings.Contains(got.Err, "did not answer within 100ms") {
		t.Fatalf("hanging daemon: %+v", got)
	}
}

func TestByPort(t *testing.T) {
	c := testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		filters := r.URL.Query().Get("filters")
		switch {
		case strings.Contains(filters, `"publish":{"3000":true}`):
			w.Write([]byte(`[{"Id":"a1","Names":["/web"],"Image":"dhi.io/node:25","Labels":{}}]`))
		case strings.Contains(filters, `"expose":{"3000":true}`):
			w.Write([]byte(`[{"Id":"a1","Names":["/web"],"Image":"dhi.io/node:25","Labels":{}}]`))
		case strings.Contains(filters, `"8080":true`):
			w.Write([]byte(`[{"Id":"b1","Names":["/one"]},{"Id":"b2","Names":["/two"]}]`))
		default:
			w.Write([]byte(`[]`))
		}
	})
	r := &DaemonResolver{Client: c, Timeout: 2 * time.Second}
	if got := r.ByPort(context.Background(), "3000"); !got.Found || got.Name != "web" || got.ID != "a1" {
		t.Errorf("one owner: %+v", got)
	}
	if got := r.ByPort(context.Background(), "8080"); got.Found {
		t.Errorf("two owners must not name either: %+v", got)
	}
	if got := r.ByPort(context.Background(), "9999"); got.Found || got.Err == "" {
		t.Errorf("no owner: %+v", got)
	}
}

package imagefacts

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hardened-authz/hardened-authz/internal/testdaemon"
)

func TestNamed(t *testing.T) {
	tests := []struct{ ref, repo, tag, digest string }{
		{"dhi.io/node:25-dev", "dhi.io/node", "25-dev", ""},
		{"nginx", "docker.io/library/nginx", "latest", ""},
		{"acme/dhi-node:25", "docker.io/acme/dhi-node", "25", ""},
		{"localhost:5000/x/y", "localhost:5000/x/y", "latest", ""},
		{"cgr.dev/chainguard/node@sha256:" + strings.Repeat("a", 64), "cgr.dev/chainguard/node", "", "sha256:" + strings.Repeat("a", 64)},
		{"sha256:" + strings.Repeat("b", 64), "", "", ""},
		{strings.Repeat("c", 64), "", "", ""},
		{"NOT A REF", "", "", ""},
	}
	for _, tt := range tests {
		f := Named(tt.ref)
		if f.Repository != tt.repo || f.Tag != tt.tag || f.Digest != tt.digest || f.Source != SourceCatalog {
			t.Errorf("Named(%q) = repo %q tag %q digest %q source %q; want %q %q %q catalog", tt.ref, f.Repository, f.Tag, f.Digest, f.Source, tt.repo, tt.tag, tt.digest)
		}
	}
}

func TestInspectAnswers(t *testing.T) {
	c := testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/images/dhi.io/node:25/json") {
			http.Error(w, `{"message":"No such image"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"Id":"sha256:abc","Config":{"User":"node","Labels":{"com.docker.dhi.shell":""},
			"Env":["PATH=/usr/local/bin:/usr/bin"],"Entrypoint":["node"],"Shell":["/bin/bash","-c"],
			"Healthcheck":{"Test":["CMD","curl","-f","http://localhost:3000/"],"Interval":5000000000}}}`))
	})
	d := &DaemonInspector{Client: c, Timeout: 2 * time.Second}
	f := d.Inspect(context.Background(), "dhi.io/node:25")
	if f.Source != SourceDaemon || !f.Found || f.ID != "sha256:abc" || f.User != "node" {
		t.Fatalf("facts = %+v", f)
	}
	if _, ok := f.Labels["com.docker.dhi.shell"]; !ok || f.Healthcheck == nil || f.Healthcheck.Test[1] != "curl" || f.Shell[0] != "/bin/bash" {
		t.Fatalf("facts = %+v", f)
	}
	if f.Repository != "dhi.io/node" || f.Tag != "25" {
		t.Fatalf("name facts lost: %+v", f)
	}
	missing := d.Inspect(context.Background(), "dhi.io/nope:1")
	if missing.Source != SourceCatalog || missing.Found || !missing.Missing || !strings.Contains(missing.Err, "No such image") || missing.Repository != "dhi.io/nope" {
		t.Fatalf("missing image facts = %+v", missing)
	}
	if none := d.Inspect(context.Background(), ""); none.Source != SourceCatalog || none.Err == "" || !none.Missing {
		t.Fatalf("empty ref facts = %+v", none)
	}
}

func TestInspectNeverOutlivesItsDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c := testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		select { // a daemon that does not answer
		case <-release:
		case <-r.Context().Done():
		}
	})
	d := &DaemonInspector{Client: c, Timeout: 100 * time.Millisecond}
	start := time.Now()
	f := d.Inspect(context.Background(), "dhi.io/node:25")
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Inspect took %v with a 100ms deadline", elapsed)
	}
	if f.Source != SourceCatalog || f.Missing || !strings.Contains(f.Err, "did not answer within 100ms") || f.Repository != "dhi.io/node" {
		t.Fatalf("facts = %+v", f)
	}
}

func TestInspectUnreachableDaemon(t *testing.T) {
	c, err := client.New(client.WithHost("unix://"+filepath.Join(t.TempDir(), "none.sock")), client.WithAPIVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	f := (&DaemonInspector{Client: c, Timeout: time.Second}).Inspect(context.Background(), "dhi.io/node:25")
	if f.Source != SourceCatalog || f.Err == "" {
		t.Fatalf("facts = %+v", f)
	}
}

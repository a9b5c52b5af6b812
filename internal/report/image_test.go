package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

// runDoc is the document `authz image` builds: `docker run REF`.
func runDoc(img imagefacts.Image) input.Document {
	req := &container.CreateRequest{Config: &container.Config{Image: img.Ref}, HostConfig: &container.HostConfig{}}
	return input.ForRequest(route.Parse("POST", "/containers/create"), input.Caller{}, "").WithImage("", req, img)
}

func TestImageReportFromTheCatalog(t *testing.T) {
	img := imagefacts.Image{Facts: imagefacts.Named("dhi.io/node:25")}
	img.Err = "No such image: dhi.io/node:25"
	lib := map[string]any{"family": "dhi-node", "is_hardened": true, "shell_fact": false, "shell_source": "catalog"}
	r := NewImage(runDoc(img), lib, "")
	if r.Family != "dhi-node" || !r.Hardened || r.Shell.Found == nil || *r.Shell.Found || r.Shell.Source != "catalog" || r.Source != "catalog" {
		t.Fatalf("report = %+v", r)
	}
	if r.Error != img.Err || r.Lookups == nil {
		t.Fatalf("error %q, lookups %v: want the inspect error and an empty map", r.Error, r.Lookups)
	}

	var text bytes.Buffer
	if err := r.Write(&text, "text"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image        dhi.io/node:25", "(not in the daemon)", "dhi-node (hardened)", "/bin/sh: none (catalog)", "note         No such image"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := r.Write(&js, "json"); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if shell, _ := back["shell"].(map[string]any); shell["found"] != false || back["family"] != "dhi-node" {
		t.Fatalf("json = %s", js.String())
	}
}

func TestImageReportUnknownShellAndIndexError(t *testing.T) {
	img := imagefacts.Image{Facts: imagefacts.Named("acme/api:1")}
	img.Source, img.Found, img.ID = imagefacts.SourceDaemon, true, "sha256:"+strings.Repeat("1", 64)
	// A lib value that is not an object (an undefined package) must not
	// panic: nothing is known beyond the document.
	r := NewImage(runDoc(img), nil, "image index unavailable: still being scanned")
	if r.Shell.Found != nil || r.Shell.Source != "unknown" || r.Family != "" || r.Error != "image index unavailable: still being scanned" {
		t.Fatalf("report = %+v", r)
	}
	var text bytes.Buffer
	if err := r.Write(&text, "text"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"none known", "unknown (never denied)", "sha256:111", "still being scanned"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

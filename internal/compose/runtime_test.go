package compose

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/testtree"
)

// volumes, tmpfs and working_dir reach the container as dockerd gets them.
func TestVolumesTmpfsAndWorkingDir(t *testing.T) {
	dir := testtree.Write(t, map[string]string{
		"compose.yaml": `services:
  app:
    image: app
    working_dir: /srv/app/
    tmpfs: ["/usr/bin:size=64k", /run]
    volumes:
      - ./tools:/opt/tools:ro
      - data:/var/lib/data
      - type: tmpfs
        target: /cache
volumes:
  data: {}
`,
	})
	c := docs(t, load(t, Options{ProjectDir: dir}))["app"].Container
	eq(t, "working_dir", c.WorkingDir, "/srv/app")
	want := []input.Mount{
		{Target: "/cache", Type: input.MountTmpfs},
		{Target: "/opt/tools", Type: input.MountBind},
		{Target: "/run", Type: input.MountTmpfs},
		{Target: "/usr/bin", Type: input.MountTmpfs},
		{Target: "/var/lib/data", Type: input.MountVolume},
	}
	if !reflect.DeepEqual(c.Mounts, want) {
		t.Errorf("mounts = %+v\nwant %+v", c.Mounts, want)
	}
}

// A compose service's environment reaches the container's PATH as docker
// compose sends it: PATH=... replaces the image's; a bare PATH takes the
// caller's, as compose resolves it, and unsets it when the caller has none.
func TestComposeEnvironmentSetsPath(t *testing.T) {
	t.Setenv("PATH", "restored after the test")
	os.Unsetenv("PATH")
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(`services:
  set:
    image: dhi.io/node:25
    environment:
      PATH: /opt/bin:/usr/bin
  unset:
    image: dhi.io/node:25
    environment:
      - PATH
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(context.Background(), Options{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	img := imagefacts.Image{Facts: imagefacts.Named("dhi.io/node:25")}
	img.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	if got := p.Document("set", img).Container.Path; !slices.Equal(got, []string{"/opt/bin", "/usr/bin"}) {
		t.Errorf("PATH set in compose: %v", got)
	}
	if got := p.Document("unset", img).Container.Path; len(got) != 0 {
		t.Errorf("PATH unset in compose (bare key): %v, want none", got)
	}
}

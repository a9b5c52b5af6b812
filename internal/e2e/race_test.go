//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRetagRaceIsClosedAtStart: a name retagged between the plugin's image
// inspect and dockerd's own resolution can make a create run on an image
// the plugin never checked. The start is decided on the image ID dockerd
// stored, so no container of the unchecked image ever starts.
//
// The name flips between ImageCurlDev (has curl: the healthcheck runs) and
// ImageBusyboxDev (no curl: HA002) while containers are created and
// started with a curl healthcheck on it.
func TestRetagRaceIsClosedAtStart(t *testing.T) {
	const tag = "e2e-race/app:1"
	badID := strings.TrimSpace(mustDocker(t, 30*time.Second, "image", "inspect", "-f", "{{.Id}}", ImageBusyboxDev).Stdout)
	mustDocker(t, 30*time.Second, "tag", ImageCurlDev, tag)
	t.Cleanup(func() { docker(t, 30*time.Second, "rmi", tag) })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			src := ImageCurlDev
			if i%2 == 0 {
				src = ImageBusyboxDev
			}
			suite.Docker.Run(30*time.Second, "docker", "tag", src, tag)
		}
	}()

	// The entrypoint is the request's own: on the curl image, a command
	// alone would be curl's arguments, and curl exits at once (HA011).
	body := `{"Image":"` + tag + `","Entrypoint":["sleep"],"Cmd":["30"],"Healthcheck":{"Test":["CMD","curl","-f","http://localhost:3000/"],"Interval":60000000000}}`
	var names []string
	t.Cleanup(func() {
		if len(names) > 0 {
			docker(t, 60*time.Second, append([]string{"rm", "-f"}, names...)...)
		}
	})
	created, badCreated, badRefused := 0, 0, 0
	for i := 0; i < 30; i++ {
		name := "e2e-race-" + randomHex(3)
		status, resp := curlCreate(t, name, body)
		if status != http.StatusCreated {
			continue // denied at create (HA002 on the busybox image): fine
		}
		created++
		names = append(names, name)
		image := strings.TrimSpace(mustDocker(t, 30*time.Second, "inspect", "-f", "{{.Image}}", name).Stdout)
		start := docker(t, 60*time.Second, "start", name)
		if image != badID {
			continue
		}
		// The create raced the retag: dockerd resolved the name to the
		// image the plugin did not check. Its start must be refused.
		badCreated++
		if start.OK() {
			t.Errorf("container %s runs %s, whose healthcheck cannot run, and its start was allowed (create answered %s)", name, ImageBusyboxDev, resp)
			continue
		}
		requireContains(t, "docker start output", start.Out, "authorization denied by plugin "+suite.PluginName, "HA002")
		badRefused++
	}
	close(stop)
	wg.Wait()
	t.Logf("%d creates allowed, %d of them on the unchecked image (the race), %d of those refused at start", created, badCreated, badRefused)
	if created == 0 {
		t.Fatal("no create was allowed: the race was never exercised")
	}
}

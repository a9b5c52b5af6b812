package netns

import (
	"context"
	"strings"

	"github.com/moby/moby/client"
)

// ByPort finds the running container that publishes or exposes port: the
// app a sidecar probing localhost:port most likely means. Found is false
// unless exactly one container does, so a fix never names the wrong app.
func (d *DaemonResolver) ByPort(ctx context.Context, port string) Target {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	seen := map[string]Target{}
	for _, filter := range []string{"publish", "expose"} {
		res, err := d.Client.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add(filter, port)})
		if err != nil {
			return Target{Err: "container list: " + err.Error()}
		}
		for _, c := range res.Items {
			t := Target{Found: true, ID: c.ID, Image: c.Image, Running: true, Labels: c.Labels}
			if len(c.Names) > 0 {
				t.Name = strings.TrimPrefix(c.Names[0], "/")
			}
			seen[c.ID] = t
		}
	}
	if len(seen) != 1 {
		return Target{Err: "no single running container publishes or exposes port " + port}
	}
	for _, t := range seen {
		return t
	}
	return Target{}
}

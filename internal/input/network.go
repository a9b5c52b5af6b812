package input

import "github.com/hardened-authz/hardened-authz/internal/netns"

// WithNetworkTarget adds the container whose network namespace the new
// container joins, as the daemon resolved it. Only for container mode.
func (d Document) WithNetworkTarget(t netns.Target) Document {
	c := *d.Container
	nc := &NetworkContainer{Found: t.Found, ID: t.ID, Name: t.Name, Image: t.Image, Running: t.Running, Error: t.Err}
	if t.Project != "" && t.Service != "" {
		nc.Compose = &Compose{Project: t.Project, Service: t.Service}
	}
	c.Network.Container = nc
	d.Container = &c
	return d
}

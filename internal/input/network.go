package input

import (
	"net/url"
	"path"

	"github.com/hardened-authz/hardened-authz/internal/netns"
)

// WithNetworkTarget adds the container whose network namespace the new
// container joins, as the daemon resolved it. Only for container mode.
func (d Document) WithNetworkTarget(t netns.Target) Document {
	c := *d.Container
	c.Network.Container = networkContainer(t)
	d.Container = &c
	return d
}

// LocalProbePort is the port of a probe_url on localhost, 127.0.0.1 or
// [::1] ("" for any other probe): the port a sidecar in its own network
// namespace would probe in vain.
func (c *Container) LocalProbePort() string {
	if !probeLoopback(c.Healthcheck.ProbeURL) {
		return ""
	}
	u, err := url.Parse(c.Healthcheck.ProbeURL)
	if err != nil {
		return ""
	}
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// MayBeSidecar is a cheap test of whether resolving the probed port's owner
// can matter: the main process looks like a keep-alive (sleep, tail,
// pause). Rules decide what a sidecar is (hardened.lib.sidecar); this only
// keeps the daemon calls off the creates of ordinary apps, which probe
// their own localhost all the time.
func (c *Container) MayBeSidecar() bool {
	argv := c.Entrypoint
	if len(argv) == 0 {
		argv = c.Command
	}
	if len(argv) == 0 {
		return false
	}
	switch path.Base(argv[0]) {
	case "sleep", "tail", "pause":
		return true
	}
	return false
}

// WithProbeApp adds the container found to own a local probe's port.
func (d Document) WithProbeApp(t netns.Target) Document {
	c := *d.Container
	c.ProbeApp = networkContainer(t)
	d.Container = &c
	return d
}

func networkContainer(t netns.Target) *NetworkContainer {
	nc := &NetworkContainer{Found: t.Found, ID: t.ID, Name: t.Name, Image: t.Image, Running: t.Running, Error: t.Err}
	nc.Compose = composeOf(t.Labels)
	return nc
}

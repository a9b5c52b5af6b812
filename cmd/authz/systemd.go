package main

import (
	"context"
	"log/slog"
	"net"
	"sync"

	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/plugin"
	"github.com/hardened-authz/hardened-authz/internal/sdnotify"
)

// systemdHelp is appended to the help of `authz serve`.
const systemdHelp = `

Under systemd (packaging/systemd in the source): with Type=notify the
plugin tells systemd READY=1 once its socket serves, so dockerd, ordered
after it, never starts before it; and STOPPING=1 when it stops. Started by
a socket unit (hardened-authz.socket), it serves on the socket systemd
passes instead of --socket, and leaves that socket in place when it stops:
dockerd's calls wait on it while the plugin restarts.`

// addSystemdHelp documents the systemd integration in cmd's help.
func addSystemdHelp(cmd *cobra.Command) { cmd.Long += systemdHelp }

// listenPlugin returns the socket systemd passed (socket activation), or
// else opens the one at path.
func listenPlugin(path string, log *slog.Logger) (net.Listener, error) {
	l, err := plugin.Inherited()
	if err != nil {
		return nil, err
	}
	if l != nil {
		log.Info("socket from systemd", "socket", l.Addr().String())
		return l, nil
	}
	return plugin.Listen(path)
}

// notifySystemd tells systemd (Type=notify; nothing without
// $NOTIFY_SOCKET) that the plugin is ready, and returns the function that
// says it is stopping. That is also said as soon as ctx is done, when the
// plugin starts finishing its calls in flight.
func notifySystemd(ctx context.Context, log *slog.Logger) func() {
	send := func(state string) {
		if sent, err := sdnotify.Notify(state); err != nil {
			log.Warn("could not notify systemd", "state", state, "error", err)
		} else if sent {
			log.Debug("notified systemd", "state", state)
		}
	}
	send(sdnotify.Ready)
	var once sync.Once
	stopping := func() { once.Do(func() { send(sdnotify.Stopping) }) }
	// On SIGTERM at once, not only after the calls in flight.
	context.AfterFunc(ctx, stopping)
	return stopping
}

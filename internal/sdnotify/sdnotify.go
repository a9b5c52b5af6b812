// Package sdnotify tells systemd about the service's state through the
// notification socket of a Type=notify unit ($NOTIFY_SOCKET), the protocol
// of sd_notify(3), without linking libsystemd: one datagram per message.
//
// systemd orders units started after this one (dockerd, with
// Before=docker.service) behind READY=1, so the plugin's socket answers
// before dockerd first calls it.
package sdnotify

import (
	"fmt"
	"net"
	"os"
)

// Messages this program sends; see sd_notify(3).
const (
	// Ready says the service serves: systemd then starts the units ordered
	// after it.
	Ready = "READY=1"
	// Stopping says the service is shutting down on its own, so systemd
	// does not take the end for a crash.
	Stopping = "STOPPING=1"
)

// SocketEnv is the variable systemd sets to its notification socket: a
// path, or an abstract socket name when it starts with "@".
const SocketEnv = "NOTIFY_SOCKET"

// Notify sends state (newline-separated VAR=value assignments) to the
// socket named by $NOTIFY_SOCKET. It reports whether it sent anything:
// without the variable, as when not started by systemd, it does nothing.
func Notify(state string) (bool, error) {
	return NotifySocket(os.Getenv(SocketEnv), state)
}

// NotifySocket sends state to socket, a $NOTIFY_SOCKET value; "" sends
// nothing.
func NotifySocket(socket, state string) (bool, error) {
	if socket == "" {
		return false, nil
	}
	// systemd also accepts vsock addresses ("vsock:CID:PORT"); only unix
	// sockets reach a service on the host.
	if socket[0] != '/' && socket[0] != '@' {
		return false, fmt.Errorf("%s=%q: want an absolute path or an abstract name starting with @", SocketEnv, socket)
	}
	// Go's unix addresses take a leading "@" as the abstract namespace,
	// as systemd spells it.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("notify systemd on %s: %w", socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("notify systemd on %s: %w", socket, err)
	}
	return true, nil
}

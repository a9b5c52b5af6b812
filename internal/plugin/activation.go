package plugin

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// The variables of systemd's socket activation, sd_listen_fds(3): the
// process they are meant for, how many sockets it got (from fd 3 on), and
// their names.
const (
	listenPIDEnv     = "LISTEN_PID"
	listenFDsEnv     = "LISTEN_FDS"
	listenFDNamesEnv = "LISTEN_FDNAMES"
	listenFDsStart   = 3
)

// inheritedListener marks a socket the service manager created and passed
// on: it outlives this process, so it is never removed.
type inheritedListener struct{ net.Listener }

// IsInherited reports whether l came from Inherited.
func IsInherited(l net.Listener) bool {
	_, ok := l.(inheritedListener)
	return ok
}

// Inherited returns the listening unix socket systemd passed to this
// process (a hardened-authz.socket unit: LISTEN_PID is this process and
// LISTEN_FDS is 1, the socket on fd 3), or nil when there is none. With
// socket activation dockerd's calls queue on the socket from boot and
// across restarts of the plugin, instead of failing while it starts.
//
// The variables are removed either way, so that nothing this process
// starts takes them for its own.
func Inherited() (net.Listener, error) {
	pid, fds := os.Getenv(listenPIDEnv), os.Getenv(listenFDsEnv)
	if pid == "" && fds == "" {
		return nil, nil
	}
	for _, v := range []string{listenPIDEnv, listenFDsEnv, listenFDNamesEnv} {
		_ = os.Unsetenv(v)
	}
	// Variables left for another process (ours is not the PID they name)
	// are not ours to use, as sd_listen_fds(3) has it.
	if pid != strconv.Itoa(os.Getpid()) {
		return nil, nil
	}
	n, err := strconv.Atoi(fds)
	switch {
	case err != nil || n < 0:
		return nil, fmt.Errorf("%s=%q from the service manager is not a number of sockets", listenFDsEnv, fds)
	case n == 0:
		return nil, nil
	case n > 1:
		return nil, fmt.Errorf("the service manager passed %d sockets; give the socket unit exactly one ListenStream=, the plugin's unix socket (/run/docker/plugins/hardened-authz.sock)", n)
	}
	syscall.CloseOnExec(listenFDsStart)
	if v, err := syscall.GetsockoptInt(listenFDsStart, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || v == 0 {
		return nil, fmt.Errorf("fd %d from the service manager is not a listening socket (%v): use a socket unit with ListenStream= and without Accept=yes", listenFDsStart, errOr(err, "not listening"))
	}
	f := os.NewFile(listenFDsStart, "systemd socket")
	l, err := net.FileListener(f)
	// FileListener works on a duplicate; fd 3 itself is not needed again.
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("fd %d from the service manager: %w: use ListenStream= with a unix socket path", listenFDsStart, err)
	}
	if _, ok := l.(*net.UnixListener); !ok {
		l.Close()
		return nil, fmt.Errorf("the service manager passed a %s socket (%s); dockerd calls plugins on a unix socket: set ListenStream=/run/docker/plugins/hardened-authz.sock", l.Addr().Network(), l.Addr())
	}
	return inheritedListener{l}, nil
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// removeSocket removes the socket file at path once l is closed, unless
// systemd passed l (Inherited): the socket then belongs to the socket
// unit, which keeps queueing dockerd's calls for the next start.
func removeSocket(l net.Listener, path string) error {
	if IsInherited(l) {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

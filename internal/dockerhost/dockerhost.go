// Package dockerhost chooses the Docker daemon a command talks to and
// connects to it, the same way for every command: --docker-host, else
// $DOCKER_HOST, else the local socket, as the docker CLI does without a
// context.
package dockerhost

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Host is the daemon address for a --docker-host value: the flag, else
// $DOCKER_HOST, else client.DefaultDockerHost.
func Host(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("DOCKER_HOST"); env != "" {
		return env
	}
	return client.DefaultDockerHost
}

// Connect returns a client for Host(flag) and the address it uses. It
// does not dial: the first call does. opts add to the client's options
// (serve's marks its own calls with a header).
func Connect(flag string, opts ...client.Opt) (*client.Client, string, error) {
	host := Host(flag)
	cli, err := client.New(append([]client.Opt{client.WithHost(host)}, opts...)...)
	if err != nil {
		return nil, host, fmt.Errorf("--docker-host %q: %w", host, err)
	}
	return cli, host, nil
}

// Ping deadlines for Answering.
const (
	// ExplicitPingTimeout bounds the check of a daemon the user named.
	ExplicitPingTimeout = 5 * time.Second
	// DefaultPingTimeout bounds the check of the default daemon, which is
	// only used when it is there, so a run without Docker stays fast.
	DefaultPingTimeout = time.Second
)

// Answering connects to the daemon for flag when it answers a ping. A
// daemon named by flag must answer: otherwise the error says so. The
// default daemon is optional: when it is absent or silent, Answering
// returns a nil client and no error, and the caller goes on without one.
func Answering(ctx context.Context, flag string) (*client.Client, string, error) {
	host := Host(flag)
	explicit := flag != ""
	if sock, ok := strings.CutPrefix(host, "unix://"); ok && !explicit {
		if _, err := os.Stat(sock); err != nil {
			return nil, host, nil
		}
	}
	cli, _, err := Connect(flag)
	if err != nil {
		if explicit {
			return nil, host, err
		}
		return nil, host, nil
	}
	timeout := DefaultPingTimeout
	if explicit {
		timeout = ExplicitPingTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{}); err != nil {
		cli.Close()
		if explicit {
			return nil, host, fmt.Errorf("the Docker daemon at %s does not answer (%v): start it, or drop --docker-host to check with the catalog alone", host, err)
		}
		return nil, host, nil
	}
	return cli, host, nil
}

package dockerhost

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/hardened-authz/hardened-authz/internal/testdaemon"
)

func TestHostPrecedence(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	if got := Host(""); got != client.DefaultDockerHost {
		t.Errorf("Host(\"\") without DOCKER_HOST = %q, want %q", got, client.DefaultDockerHost)
	}
	t.Setenv("DOCKER_HOST", "unix:///env.sock")
	if got := Host(""); got != "unix:///env.sock" {
		t.Errorf("Host(\"\") = %q, want $DOCKER_HOST", got)
	}
	if got := Host("tcp://127.0.0.1:2375"); got != "tcp://127.0.0.1:2375" {
		t.Errorf("Host(flag) = %q, want the flag over $DOCKER_HOST", got)
	}
}

func TestConnectNamesTheFlag(t *testing.T) {
	_, _, err := Connect("tcp://")
	if err == nil || !strings.Contains(err.Error(), `--docker-host "tcp://"`) {
		t.Fatalf("err = %v; want it to name --docker-host and its value", err)
	}
}

func TestAnswering(t *testing.T) {
	pings := 0
	live := testdaemon.Serve(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			pings++
			w.Header().Set("Api-Version", "1.41")
			w.Write([]byte("OK"))
			return
		}
		http.NotFound(w, r)
	})
	absent := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	ctx := context.Background()

	cli, host, err := Answering(ctx, live.DaemonHost())
	if err != nil || cli == nil || host != live.DaemonHost() || pings != 1 {
		t.Fatalf("a named daemon that answers: cli %v host %q err %v pings %d", cli, host, err, pings)
	}
	cli.Close()

	if cli, _, err := Answering(ctx, absent); err == nil || cli != nil || !strings.Contains(err.Error(), "does not answer") || !strings.Contains(err.Error(), "--docker-host") {
		t.Fatalf("a named daemon that is absent must be an error naming the way out, got cli %v err %v", cli, err)
	}

	// The default daemon ($DOCKER_HOST here) is optional.
	t.Setenv("DOCKER_HOST", absent)
	if cli, host, err := Answering(ctx, ""); err != nil || cli != nil || host != absent {
		t.Fatalf("an absent default daemon: cli %v host %q err %v; want no client and no error", cli, host, err)
	}
	t.Setenv("DOCKER_HOST", live.DaemonHost())
	cli, _, err = Answering(ctx, "")
	if err != nil || cli == nil {
		t.Fatalf("a default daemon that answers: cli %v err %v", cli, err)
	}
	cli.Close()
}

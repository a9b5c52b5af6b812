//go:build peer

package opadockerauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/loadgen"
)

// Built only with the peer tag (go test -tags peer ./internal/opadockerauthz):
// opa-docker-authz is not on the Go module proxy, so CI cannot build it.
// Given its binary in OPA_DOCKER_AUTHZ_BIN (built from its source, see
// docs/migrating-from-opa-docker-authz.md), every case of TestIncumbentCases
// goes to the real incumbent over its socket, running the same policy
// file, and must get the decision this package makes, except where the
// migration guide says the two differ.

// knownDifferences are the cases the incumbent decides otherwise, and why.
var knownDifferences = map[string]string{
	// Its OPA 1.7.1's glob lets "**/" match no segment; this package's
	// OPA does not, and warns about such patterns at load.
	"an unversioned create passes the example's glob": "glob",
	// Input it cannot build (a bad target, a body that is not JSON) is an
	// error it answers with a 500, which dockerd treats as a denial: the
	// same outcome, not the same answer (here: a 403 deny that says why).
	"a bad target denied":            "error",
	"a malformed create body denied": "error",
}

func TestTheIncumbentDecidesTheSame(t *testing.T) {
	bin := os.Getenv("OPA_DOCKER_AUTHZ_BIN")
	if bin == "" {
		t.Fatal("OPA_DOCKER_AUTHZ_BIN is not set: build opa-docker-authz from its source and set it to the binary")
	}
	sockets := map[string]string{}
	for _, policy := range []string{"example.rego", "default_allow.rego"} {
		sockets[policy] = startIncumbent(t, bin, filepath.Join(fixtures, policy))
	}
	for _, tc := range incumbentCases {
		t.Run(tc.name, func(t *testing.T) {
			allow, failed := askIncumbent(t, sockets[tc.policy], tc.req)
			switch why := knownDifferences[tc.name]; {
			case why == "error":
				if !failed && allow {
					t.Errorf("the incumbent allowed it")
				}
			case why == "glob":
				if allow == tc.allow {
					t.Errorf("the incumbent decides %v here too: the known difference is gone, update the migration guide", allow)
				}
			case failed:
				t.Errorf("the incumbent failed the call")
			case allow != tc.allow:
				t.Errorf("the incumbent decides %v, this package %v", allow, tc.allow)
			}
		})
	}
}

// startIncumbent runs opa-docker-authz in its policy-file mode on a
// socket of its own (an absolute -plugin-name is its socket path) and
// stops it when the test ends.
func startIncumbent(t *testing.T, bin, policy string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "peer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	abs, err := filepath.Abs(policy)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "peer.sock")
	cmd := exec.Command(bin, "-plugin-name", sock, "-policy-file", abs, "-quiet")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if err := loadgen.Activate(ctx, sock); err == nil {
			return sock
		}
		select {
		case <-ctx.Done():
			t.Fatalf("opa-docker-authz did not answer on %s:\n%s", sock, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// askIncumbent sends req as dockerd would and returns the answer; failed
// is true when the plugin answered with an error or not at all.
func askIncumbent(t *testing.T, sock string, req authorization.Request) (allow, failed bool) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := loadgen.Client(sock, nil).Post("http://plugin/AuthZPlugin.AuthZReq", "application/json", bytes.NewReader(body))
	if err != nil {
		return false, true
	}
	defer resp.Body.Close()
	var res authorization.Response
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 || res.Err != "" {
		return false, true
	}
	return res.Allow, false
}

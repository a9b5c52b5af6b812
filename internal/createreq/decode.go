// Package createreq decodes the body of POST /containers/create exactly as
// dockerd does, so a policy sees the container the daemon will create.
package createreq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/container"
)

// MaxBodyBytes bounds the body this package decodes. Current dockerd rejects
// bodies over 4 MiB before any plugin sees them; anything larger here did not
// come from a daemon that would run it.
const MaxBodyBytes = 4 << 20

// ErrNoBody reports a create request that arrived without a body. The daemon
// never creates a container from an empty body, and an empty body is how
// authorization bypasses such as CVE-2024-41110 looked to plugins.
var ErrNoBody = errors.New("container create request has no body")

// Decode parses a create body with the Engine API types and encoding/json,
// the decoder dockerd itself uses: keys match case-insensitively and the
// last duplicate key wins. JSON nulls leave fields unset, as in the daemon.
// Trailing data after the JSON object is rejected so that a policy never
// evaluates a different document than a stricter parser would see.
func Decode(body []byte) (*container.CreateRequest, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, ErrNoBody
	}
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("container create body is %d bytes, over the %d-byte limit", len(body), MaxBodyBytes)
	}
	if trimmed[0] != '{' {
		return nil, errors.New("container create body is not a JSON object")
	}
	var req container.CreateRequest
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("container create body does not decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("container create body has data after the JSON object")
	}
	if req.Config == nil {
		// Only possible for "{}": the embedded *Config is allocated as soon as
		// any of its keys appears.
		req.Config = &container.Config{}
	}
	if req.HostConfig == nil {
		req.HostConfig = &container.HostConfig{}
	}
	return &req, nil
}

package opadockerauthz

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// SelfHeader is the request header that marks the plugin's own calls to
// dockerd (image and container inspect, image export, events): they pass
// through the authorization plugins like any client's, and an
// opa-docker-authz policy written for people (the example's Authz-User
// check) would refuse them, leaving the plugin without the facts its own
// rules need. opa-docker-authz made no such calls, so exempting them
// changes no decision it made.
const SelfHeader = "X-Hardened-Authz-Self"

// SelfToken is the secret value of SelfHeader, random for each process: a
// client can set any header, but cannot guess this one. The zero value
// marks nothing.
type SelfToken struct{ value string }

// NewSelfToken makes a random token.
func NewSelfToken() (SelfToken, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return SelfToken{}, fmt.Errorf("make the token that marks the plugin's own calls: %w", err)
	}
	return SelfToken{value: hex.EncodeToString(b)}, nil
}

// Headers are the headers the plugin's Docker client adds to every call.
func (t SelfToken) Headers() map[string]string {
	if t.value == "" {
		return nil
	}
	return map[string]string{SelfHeader: t.value}
}

// Marks reports whether headers, as dockerd forwarded them, carry this
// token.
func (t SelfToken) Marks(headers map[string]string) bool {
	v, ok := headers[SelfHeader]
	return ok && t.value != "" && subtle.ConstantTimeCompare([]byte(v), []byte(t.value)) == 1
}

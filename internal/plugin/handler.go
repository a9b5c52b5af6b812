// Package plugin speaks the Docker authorization plugin protocol: JSON over
// HTTP on a unix socket, one POST per call.
//
// It uses go-plugins-helpers' protocol types and names but its own handler:
// the helper's handler answers an undecodable call with a 400 and then still
// calls the plugin (two responses, one of them a decision on an empty
// request), and its certificate decoding panics on malformed PEM.
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/docker/go-plugins-helpers/sdk"
)

// MaxCallBytes bounds one plugin call. dockerd sends at most a 4 MiB request
// body, base64 encoded inside the JSON call, plus headers; anything larger
// is not from a daemon.
const MaxCallBytes = 8 << 20

// MaxURIBytes bounds RequestUri: dockerd's HTTP server refuses request
// headers over 1 MiB, so a longer URI never reaches a handler.
const MaxURIBytes = 1 << 20

const maxMethodBytes = 16

// activateResponse is the legacy plugin handshake answer.
var activateResponse = []byte(`{"Implements":["` + authorization.AuthZApiImplements + `"]}` + "\n")

// Authorizer decides calls. authz.Authorizer implements it.
type Authorizer interface {
	AuthZReq(context.Context, authorization.Request) authorization.Response
	AuthZRes(context.Context, authorization.Request) authorization.Response
}

// call is the wire form of an authz call. It mirrors
// authorization.Request but keeps peer certificates raw: dockerd has already
// verified them, it sets User from the certificate, and the helper's PEM
// decoding panics on malformed input.
type call struct {
	User                    string            `json:"User"`
	UserAuthNMethod         string            `json:"UserAuthNMethod"`
	RequestMethod           string            `json:"RequestMethod"`
	RequestURI              string            `json:"RequestUri"`
	RequestBody             []byte            `json:"RequestBody"`
	RequestHeaders          map[string]string `json:"RequestHeaders"`
	RequestPeerCertificates []json.RawMessage `json:"RequestPeerCertificates"`
	ResponseStatusCode      int               `json:"ResponseStatusCode"`
	ResponseBody            []byte            `json:"ResponseBody"`
	ResponseHeaders         map[string]string `json:"ResponseHeaders"`
}

func (c *call) request() authorization.Request {
	return authorization.Request{
		User:               c.User,
		UserAuthNMethod:    c.UserAuthNMethod,
		RequestMethod:      c.RequestMethod,
		RequestURI:         c.RequestURI,
		RequestBody:        c.RequestBody,
		RequestHeaders:     c.RequestHeaders,
		ResponseStatusCode: c.ResponseStatusCode,
		ResponseBody:       c.ResponseBody,
		ResponseHeaders:    c.ResponseHeaders,
	}
}

// NewHandler serves the protocol for a.
func NewHandler(a Authorizer, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", sdk.DefaultContentTypeV1_1)
		_, _ = w.Write(activateResponse)
	})
	mux.Handle("/"+authorization.AuthZApiRequest, callHandler(a.AuthZReq, log))
	mux.Handle("/"+authorization.AuthZApiResponse, callHandler(a.AuthZRes, log))
	return mux
}

// callHandler decodes one call, decides it and writes exactly one answer.
// A call that cannot be decoded gets a non-200 answer with an Err, which
// dockerd turns into a failed (not run) API call: the plugin fails closed.
func callHandler(decide func(context.Context, authorization.Request) authorization.Response, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("plugin call panicked; denied", "path", r.URL.Path, "panic", fmt.Sprint(p))
				writeError(w, http.StatusInternalServerError, "hardened-authz: internal error while deciding; the request is denied")
			}
		}()
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "hardened-authz: plugin calls must be POST")
			return
		}
		var c call
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxCallBytes))
		if err := dec.Decode(&c); err != nil {
			status, msg := http.StatusBadRequest, "hardened-authz: malformed authorization call: "+err.Error()
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("hardened-authz: authorization call over %d bytes", MaxCallBytes)
			}
			log.Warn("malformed plugin call; denied", "path", r.URL.Path, "error", err.Error())
			writeError(w, status, msg)
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			writeError(w, http.StatusBadRequest, "hardened-authz: malformed authorization call: data after the JSON object")
			return
		}
		if err := c.validate(); err != nil {
			log.Warn("malformed plugin call; denied", "path", r.URL.Path, "error", err.Error())
			writeError(w, http.StatusBadRequest, "hardened-authz: malformed authorization call: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, decide(r.Context(), c.request()))
	})
}

// validate rejects calls no daemon sends: dockerd always names the method
// and the URI, and its HTTP server refuses request lines over 1 MiB.
func (c *call) validate() error {
	switch {
	case c.RequestMethod == "":
		return errors.New("RequestMethod is missing")
	case len(c.RequestMethod) > maxMethodBytes:
		return fmt.Errorf("RequestMethod is over %d bytes", maxMethodBytes)
	case c.RequestURI == "":
		return errors.New("RequestUri is missing")
	case len(c.RequestURI) > MaxURIBytes:
		return fmt.Errorf("RequestUri is %d bytes, over the %d-byte limit of dockerd's own HTTP server", len(c.RequestURI), MaxURIBytes)
	}
	return nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, authorization.Response{Allow: false, Err: msg})
}

func writeJSON(w http.ResponseWriter, status int, res authorization.Response) {
	w.Header().Set("Content-Type", sdk.DefaultContentTypeV1_1)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

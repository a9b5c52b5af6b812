// Package createreq decodes the body of POST /containers/create exactly as
// dockerd does, so a policy sees the container the daemon will create.
//
// Daemons differ. Up to 28.x, dockerd takes Cmd, Entrypoint, Shell, CapAdd
// and CapDrop as a JSON string as well as an array (strslice.StrSlice);
// 29 takes arrays only. Up to 26.x, dockerd also applies HostConfig fields
// written at the top level of the body (the API < 1.18 layout, runconfig's
// ContainerConfigWrapper); 27 and later ignore them. DecodeFor reads a body
// as the daemon of a given dialect does; when the daemon's version is not
// known, Decode accepts what any of them would run the same way, and
// refuses a body that they would run differently.
package createreq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// MaxBodyBytes bounds the body this package decodes. Current dockerd rejects
// bodies over 4 MiB before any plugin sees them; anything larger here did not
// come from a daemon that would run it.
const MaxBodyBytes = 4 << 20

// ErrNoBody reports a create request that arrived without a body. The daemon
// never creates a container from an empty body, and an empty body is how
// authorization bypasses such as CVE-2024-41110 looked to plugins.
var ErrNoBody = errors.New("container create request has no body")

// ErrAmbiguous reports a body whose top-level HostConfig fields dockerd up
// to 26.x applies and dockerd 27 and later ignores, sent to a daemon whose
// version is not known: the two would create different containers, and a
// policy can only judge one of them.
var ErrAmbiguous = errors.New("container create body sets HostConfig fields at the top level")

// Dialect is how the daemon that will run a body reads HostConfig fields
// written at the top level.
type Dialect int

const (
	// EitherDaemon is a daemon of unknown version: a body is decoded only
	// when every daemon would run it the same way (else ErrAmbiguous).
	EitherDaemon Dialect = iota
	// LegacyDaemon is dockerd up to 26.x (API 1.45): top-level fields
	// apply, as runconfig's ContainerConfigWrapper reads them.
	LegacyDaemon
	// CurrentDaemon is dockerd 27 and later (API 1.46+): top-level fields
	// are ignored.
	CurrentDaemon
)

// lastLegacyAPI is the API version of dockerd 26.1, the last daemon that
// applies top-level HostConfig fields.
const lastLegacyAPI = 45

// DialectOf is the dialect of a daemon whose highest API version is
// apiVersion ("1.41" for dockerd 20.10), as its /_ping answers;
// EitherDaemon when it cannot be read.
func DialectOf(apiVersion string) Dialect {
	major, minor, ok := strings.Cut(apiVersion, ".")
	if !ok || major != "1" {
		return EitherDaemon
	}
	n := 0
	for _, c := range minor {
		if c < '0' || c > '9' || n > 1000 {
			return EitherDaemon
		}
		n = n*10 + int(c-'0')
	}
	if minor == "" {
		return EitherDaemon
	}
	if n <= lastLegacyAPI {
		return LegacyDaemon
	}
	return CurrentDaemon
}

// Decode parses a create body with the Engine API types and encoding/json,
// the decoder dockerd itself uses: keys match case-insensitively and the
// last duplicate key wins. JSON nulls leave fields unset, as in the daemon.
// A string where dockerd (before 29) also accepts one is a one-element
// list, never split on spaces: `"Cmd": "/bin/sleep 5"` runs a program named
// "/bin/sleep 5", as in the daemon. Trailing data after the JSON object is
// rejected so that a policy never evaluates a different document than a
// stricter parser would see.
func Decode(body []byte) (*container.CreateRequest, error) {
	return DecodeFor(body, EitherDaemon)
}

// DecodeFor is Decode for a daemon of dialect d: the HostConfig is the one
// that daemon creates the container with.
func DecodeFor(body []byte, d Dialect) (*container.CreateRequest, error) {
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
	var w containerConfigWrapper
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("container create body does not decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("container create body has data after the JSON object")
	}

	// Config: only possible nil for a body without any of its keys ("{}"):
	// the embedded *Config is allocated as soon as one appears.
	cfg := w.Config
	if cfg == nil {
		cfg = &container.Config{}
	}
	cfg.Cmd, cfg.Entrypoint, cfg.Shell = w.Cmd.list, w.Entrypoint.list, w.Shell.list

	current := w.Inner.hostConfig()
	switch legacy := w.legacyHostConfig(); {
	case d == LegacyDaemon:
		current = legacy
	case d == EitherDaemon && !sameHostConfig(legacy, current):
		return nil, fmt.Errorf("%w (%s), which dockerd up to 26.x applies and dockerd 27 and later ignores; move them under \"HostConfig\"",
			ErrAmbiguous, strings.Join(differingFields(legacy, current), ", "))
	}
	if current == nil {
		current = &container.HostConfig{}
	}
	return &container.CreateRequest{Config: cfg, HostConfig: current, NetworkingConfig: w.NetworkingConfig}, nil
}

// containerConfigWrapper is the body as dockerd 20.10 to 26.x decode it
// (runconfig.ContainerConfigWrapper, config_unix.go): the container Config
// and a deprecated copy of HostConfig embedded at the top level, beside the
// HostConfig key. Every field a current daemon reads is read the same way;
// the top-level copy is kept only to see whether it changes anything.
//
// Go's rule for embedded fields is what makes this work: a field at a
// shallower depth hides one of the same JSON name deeper down, so Cmd here
// takes "Cmd" from Config, and CapAdd takes "CapAdd" from the top-level
// HostConfig, without changing which keys reach which struct.
type containerConfigWrapper struct {
	*container.Config
	Cmd        strSlice
	Entrypoint strSlice
	Shell      strSlice

	Inner            *hostConfig               `json:"HostConfig"`
	NetworkingConfig *network.NetworkingConfig `json:"NetworkingConfig"`

	// Cpuset is the API < 1.18 spelling of HostConfig.CpusetCpus.
	Cpuset string
	// HostConfig holds the HostConfig fields written at the top level,
	// with CapAdd and CapDrop below.
	*container.HostConfig
	CapAdd  strSlice
	CapDrop strSlice
}

// hostConfig is HostConfig with the fields dockerd before 29 decodes as a
// strslice.StrSlice.
type hostConfig struct {
	container.HostConfig
	CapAdd  strSlice
	CapDrop strSlice
}

func (h *hostConfig) hostConfig() *container.HostConfig {
	if h == nil {
		return nil
	}
	hc := h.HostConfig
	hc.CapAdd, hc.CapDrop = h.CapAdd.list, h.CapDrop.list
	return &hc
}

// legacyHostConfig is the HostConfig dockerd 20.10 to 26.x creates the
// container with: runconfig's getHostConfig. With no "HostConfig" key the
// top-level fields are the HostConfig; with one, it wins, except that five
// resource fields it leaves zero are taken from the top level. "Cpuset"
// fills CpusetCpus when it is empty, and only when there is a HostConfig.
func (w *containerConfigWrapper) legacyHostConfig() *container.HostConfig {
	var top *container.HostConfig
	if w.HostConfig != nil || w.CapAdd.set || w.CapDrop.set {
		top = &container.HostConfig{}
		if w.HostConfig != nil {
			*top = *w.HostConfig
		}
		top.CapAdd, top.CapDrop = w.CapAdd.list, w.CapDrop.list
	}
	hc := top
	if inner := w.Inner.hostConfig(); inner != nil {
		if top != nil {
			if top.Memory != 0 && inner.Memory == 0 {
				inner.Memory = top.Memory
			}
			if top.MemorySwap != 0 && inner.MemorySwap == 0 {
				inner.MemorySwap = top.MemorySwap
			}
			if top.CPUShares != 0 && inner.CPUShares == 0 {
				inner.CPUShares = top.CPUShares
			}
			if top.CpusetCpus != "" && inner.CpusetCpus == "" {
				inner.CpusetCpus = top.CpusetCpus
			}
			if top.VolumeDriver != "" && inner.VolumeDriver == "" {
				inner.VolumeDriver = top.VolumeDriver
			}
		}
		hc = inner
	}
	if hc != nil && w.Cpuset != "" && hc.CpusetCpus == "" {
		hc.CpusetCpus = w.Cpuset
	}
	return hc
}

// sameHostConfig reports whether two daemons would create the container
// with the same HostConfig. No HostConfig at all is an empty one to both.
func sameHostConfig(a, b *container.HostConfig) bool {
	if a == nil {
		a = &container.HostConfig{}
	}
	if b == nil {
		b = &container.HostConfig{}
	}
	return reflect.DeepEqual(a, b)
}

// differingFields names the HostConfig fields (Resources' flattened, as
// in the JSON) on which a and b differ, for the error message.
func differingFields(a, b *container.HostConfig) []string {
	if a == nil {
		a = &container.HostConfig{}
	}
	if b == nil {
		b = &container.HostConfig{}
	}
	var names []string
	var walk func(x, y reflect.Value)
	walk = func(x, y reflect.Value) {
		t := x.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(x.Field(i), y.Field(i))
				continue
			}
			if !reflect.DeepEqual(x.Field(i).Interface(), y.Field(i).Interface()) {
				names = append(names, jsonName(f))
			}
		}
	}
	walk(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem())
	return names
}

func jsonName(f reflect.StructField) string {
	if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
		return name
	}
	return f.Name
}

// strSlice decodes as dockerd's strslice.StrSlice did up to 28.x: an array
// of strings, or one string as a one-element list (never split into
// words); null leaves it nil. set records that the key was present at all,
// null included, which decides whether dockerd 20.10 saw a top-level
// HostConfig.
type strSlice struct {
	list []string
	set  bool
}

// UnmarshalJSON is strslice.StrSlice.UnmarshalJSON. encoding/json calls it
// for null too.
func (s *strSlice) UnmarshalJSON(b []byte) error {
	s.set = true
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		s.list = list
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		// A type error, so that encoding/json names the field.
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[[]string]()}
	}
	s.list = []string{one}
	return nil
}

// jsonKind names the kind of a JSON value the way encoding/json's type
// errors do.
func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "value"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

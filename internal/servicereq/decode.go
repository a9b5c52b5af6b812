// Package servicereq decodes the body of POST /services/create and POST
// /services/{id}/update as a swarm manager does, and maps the service's
// container to the create request its task containers will be, so that a
// service is decided with the same policies as a container create.
//
// Swarm creates task containers inside the daemon (the executor calls the
// container backend directly): they never pass an authorization plugin.
// The service request is the last point where the plugin sees them.
package servicereq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
)

// MaxBodyBytes bounds the body this package decodes, as createreq does.
const MaxBodyBytes = 4 << 20

// LabelStackNamespace is the service label `docker stack deploy` sets to
// the stack's name.
const LabelStackNamespace = "com.docker.stack.namespace"

// ErrNoBody reports a service request without a body: the manager never
// creates or updates a service from one.
var ErrNoBody = errors.New("service request has no body")

// ErrNoContainer reports a service spec without TaskTemplate.ContainerSpec
// (a plugin or network-attachment service, or none at all): there is no
// container to decide.
var ErrNoContainer = errors.New("service spec has no TaskTemplate.ContainerSpec")

// Service is a decoded service request.
type Service struct {
	// Spec is the body as the manager reads it.
	Spec *swarm.ServiceSpec
	// Name is Spec.Name; Stack the com.docker.stack.namespace service label.
	Name  string
	Stack string
	// Create is the container each task runs, as a create request.
	Create *container.CreateRequest
}

// Decode parses a service spec with the Engine API types and
// encoding/json, as dockerd's swarm router does: keys match
// case-insensitively, the last duplicate wins, nulls leave fields unset.
// Trailing data after the JSON object is rejected, and so is a spec
// without a container.
func Decode(body []byte) (*Service, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, ErrNoBody
	}
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("service spec is %d bytes, over the %d-byte limit", len(body), MaxBodyBytes)
	}
	if trimmed[0] != '{' {
		return nil, errors.New("service spec is not a JSON object")
	}
	var spec swarm.ServiceSpec
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("service spec does not decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("service spec has data after the JSON object")
	}
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil, ErrNoContainer
	}
	return &Service{
		Spec:   &spec,
		Name:   spec.Name,
		Stack:  spec.Labels[LabelStackNamespace],
		Create: CreateRequest(&spec),
	}, nil
}

// CreateRequest is the create request of a service's task container, in
// the fields the policy input reads, as swarm's container executor
// (daemon/cluster/executor/container) builds it: Command is the
// entrypoint, Args the command, Dir the working directory, Groups the
// supplementary groups, mounts HostConfig.Mounts, the memory limit
// HostConfig.Memory. The container labels carry the stack namespace
// service label too, as `docker stack deploy` sets it on both. Networks
// are not a network mode: swarm has no "container:" mode, so the mode is
// left the default. nil when the spec has no container.
func CreateRequest(spec *swarm.ServiceSpec) *container.CreateRequest {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil
	}
	labels := make(map[string]string, len(cs.Labels)+1)
	for k, v := range cs.Labels {
		labels[k] = v
	}
	if ns, ok := spec.Labels[LabelStackNamespace]; ok {
		if _, set := labels[LabelStackNamespace]; !set {
			labels[LabelStackNamespace] = ns
		}
	}
	cfg := &container.Config{
		Image:       cs.Image,
		Entrypoint:  cs.Command,
		Cmd:         cs.Args,
		Env:         cs.Env,
		User:        cs.User,
		WorkingDir:  cs.Dir,
		Healthcheck: cs.Healthcheck,
		Labels:      labels,
		Hostname:    cs.Hostname,
	}
	host := &container.HostConfig{
		Mounts:   cs.Mounts,
		Init:     cs.Init,
		GroupAdd: cs.Groups,
	}
	if r := spec.TaskTemplate.Resources; r != nil && r.Limits != nil {
		host.Memory = r.Limits.MemoryBytes
	}
	return &container.CreateRequest{Config: cfg, HostConfig: host}
}

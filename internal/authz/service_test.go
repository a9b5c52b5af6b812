package authz

import (
	"context"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/route"
)

func serviceCall(uri, body string) authorization.Request {
	return authorization.Request{
		RequestMethod:  "POST",
		RequestURI:     uri,
		RequestBody:    []byte(body),
		RequestHeaders: map[string]string{"Content-Type": "application/json"},
	}
}

// What `docker service create --name web --health-cmd 'curl -f
// http://localhost:8080/' dhi.io/node:24` sends.
const serviceCurlOnNode = `{"Name":"web","Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"dhi.io/node:24","Init":false,
	"Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost:8080/"]},"DNSConfig":{},"Isolation":"default"},
	"Resources":{"Limits":{},"Reservations":{}},"RestartPolicy":{"Condition":"any","MaxAttempts":0},"Placement":{},"ForceUpdate":0,"Runtime":"container"},
	"Mode":{"Replicated":{"Replicas":1}},"EndpointSpec":{"Mode":"vip"}}`

// A swarm service is decided as the create its tasks will be: the
// healthcheck that cannot run in the image is denied on the manager.
func TestServiceCreateIsDecidedAsItsContainer(t *testing.T) {
	a := newAuthorizer(t, nil)
	res := a.AuthZReq(context.Background(), serviceCall("/v1.41/services/create", serviceCurlOnNode))
	if res.Allow || !strings.Contains(res.Msg, "HA001") || !strings.Contains(res.Msg, `service "web"`) {
		t.Fatalf("want HA001 about service \"web\", got allow=%v:\n%s", res.Allow, res.Msg)
	}
	for _, want := range []string{"Swarm services cannot share a network namespace", "http://web:8080/"} {
		if !strings.Contains(res.Msg, want) {
			t.Errorf("the fix lacks %q:\n%s", want, res.Msg)
		}
	}
	if strings.Contains(res.Msg, "--network container:") {
		t.Errorf("a swarm service was offered a docker run sidecar:\n%s", res.Msg)
	}
	ok := strings.Replace(serviceCurlOnNode, `"CMD-SHELL","curl -f http://localhost:8080/"`, `"NONE"`, 1)
	if res := a.AuthZReq(context.Background(), serviceCall("/v1.41/services/create", ok)); !res.Allow {
		t.Fatalf("a service without a healthcheck was denied:\n%s", res.Msg)
	}
}

// An update carries the whole spec; without a name, the path's service is
// the subject.
func TestServiceUpdateIsDecided(t *testing.T) {
	a := newAuthorizer(t, nil)
	body := strings.Replace(serviceCurlOnNode, `"Name":"web",`, ``, 1)
	res := a.AuthZReq(context.Background(), serviceCall("/v1.41/services/shop_web/update?version=12", body))
	if res.Allow || !strings.Contains(res.Msg, "HA001") || !strings.Contains(res.Msg, `service "shop_web"`) {
		t.Fatalf("want HA001 about service \"shop_web\", got allow=%v:\n%s", res.Allow, res.Msg)
	}
}

func TestBadServiceBodiesAreDenied(t *testing.T) {
	a := newAuthorizer(t, nil)
	for name, body := range map[string]string{
		"missing":      "",
		"not json":     "Name=web",
		"wrong":        `{"TaskTemplate":{"ContainerSpec":{"Image":["busybox"]}}}`,
		"trailing":     `{"TaskTemplate":{"ContainerSpec":{"Image":"a"}}}{}`,
		"no container": `{"Name":"p","TaskTemplate":{"PluginSpec":{"Name":"acme/p"},"Runtime":"plugin"}}`,
	} {
		for _, uri := range []string{"/v1.41/services/create", "/v1.41/services/web/update"} {
			res := a.AuthZReq(context.Background(), serviceCall(uri, body))
			if res.Allow || !strings.HasPrefix(res.Msg, RuleBadCreateBody+":") || !strings.Contains(res.Msg, "service spec") {
				t.Errorf("%s %s: want %s about the service spec, got allow=%v %q", name, uri, RuleBadCreateBody, res.Allow, res.Msg)
			}
		}
	}
}

func TestServiceRequestsLeaveTheFastPath(t *testing.T) {
	a := newAuthorizer(t, nil)
	for _, k := range []route.Kind{route.ServiceCreate, route.ServiceUpdate} {
		if !a.decides(k) {
			t.Errorf("%v takes the fast path", k)
		}
	}
}

package loadgen

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/docker/go-plugins-helpers/authorization"
)

// Call is one Docker API call as dockerd hands it to an authorization
// plugin: an AuthZReq before the daemon acts, and, when the call was
// allowed and is not a stream, an AuthZRes with the daemon's answer.
type Call struct {
	// Kind names the call in --kind and in reports.
	Kind string
	// Weight is the call's share of the mix: how many of every
	// MixTotal calls a `docker compose up`, `docker run` and `docker ps`
	// session makes are this one. Zero leaves it out of the mix.
	Weight int
	// Allowed is what this project's shipped rules decide. The load does
	// not depend on it being right: it only says whether dockerd would go
	// on to send the AuthZRes, so every target gets the same calls.
	Allowed bool
	// Response, when set, is the AuthZRes dockerd sends after an allowed
	// call (status, headers, body). Streams (attach, events, logs, wait)
	// have none: dockerd hijacks or flushes them.
	Response *authorization.Request
	// Request is the AuthZReq.
	Request authorization.Request
}

// The API version dockerd 27 and the docker CLI negotiate; the user agent
// is what the compose v2 CLI sends, so header-reading rules see real values.
const (
	apiPrefix = "/v1.47"
	userAgent = "compose/v2.29.7"
)

// composeLabels are the labels compose v2 puts on a service container.
func composeLabels(service, image string, dependsOn string) map[string]string {
	return map[string]string{
		"com.docker.compose.config-hash":          "9f8e2c1d0b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e",
		"com.docker.compose.container-number":     "1",
		"com.docker.compose.depends_on":           dependsOn,
		"com.docker.compose.image":                "sha256:3c7f1b2e8a9d0c4f5e6b7a8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e",
		"com.docker.compose.oneoff":               "False",
		"com.docker.compose.project":              "seed",
		"com.docker.compose.project.config_files": "/src/seed/compose.yaml",
		"com.docker.compose.project.working_dir":  "/src/seed",
		"com.docker.compose.service":              service,
		"com.docker.compose.version":              "2.29.7",
		"org.opencontainers.image.source":         image,
	}
}

// composeCreate is the create body compose v2 sends for a service: the
// same fields, nulls and nesting, so decoding costs what it costs on a
// real daemon.
func composeCreate(service, image string, entrypoint []string, health map[string]any, networkMode string, ports map[string]any, dependsOn string) map[string]any {
	host := map[string]any{
		"Binds":           nil,
		"ContainerIDFile": "",
		"LogConfig":       map[string]any{"Type": "", "Config": nil},
		"NetworkMode":     networkMode,
		"PortBindings":    ports,
		"RestartPolicy":   map[string]any{"Name": "no", "MaximumRetryCount": 0},
		"AutoRemove":      false,
		"VolumeDriver":    "",
		"VolumesFrom":     nil,
		"CapAdd":          nil,
		"CapDrop":         nil,
		"CgroupnsMode":    "",
		"Dns":             nil,
		"DnsOptions":      nil,
		"DnsSearch":       nil,
		"ExtraHosts":      []string{},
		"GroupAdd":        nil,
		"IpcMode":         "",
		"Cgroup":          "",
		"Links":           nil,
		"OomScoreAdj":     0,
		"PidMode":         "",
		"Privileged":      false,
		"PublishAllPorts": false,
		"ReadonlyRootfs":  false,
		"SecurityOpt":     nil,
		"UTSMode":         "",
		"UsernsMode":      "",
		"ShmSize":         0,
		"Isolation":       "",
		"Mounts":          nil,
		"Init":            nil,
	}
	body := map[string]any{
		"Hostname":     "",
		"Domainname":   "",
		"User":         "",
		"AttachStdin":  false,
		"AttachStdout": true,
		"AttachStderr": true,
		"Tty":          false,
		"OpenStdin":    false,
		"StdinOnce":    false,
		"Env":          []string{"NODE_ENV=production"},
		"Cmd":          nil,
		"Healthcheck":  health,
		"Image":        image,
		"Volumes":      nil,
		"WorkingDir":   "",
		"Entrypoint":   entrypoint,
		"OnBuild":      nil,
		"Labels":       composeLabels(service, image, dependsOn),
		"StopSignal":   "",
		"HostConfig":   host,
	}
	if ports != nil {
		exposed := map[string]any{}
		for p := range ports {
			exposed[p] = map[string]any{}
		}
		body["ExposedPorts"] = exposed
	}
	if !strings.HasPrefix(networkMode, "container:") {
		body["NetworkingConfig"] = map[string]any{"EndpointsConfig": map[string]any{
			networkMode: map[string]any{"Aliases": []string{"seed-" + service + "-1", service}, "DriverOpts": nil},
		}}
	}
	return body
}

// curlProbe is the healthcheck the seed project puts on its app, in the
// nanoseconds dockerd's API takes.
func curlProbe() map[string]any {
	return map[string]any{
		"Test":     []string{"CMD", "curl", "-f", "http://localhost:3000/health"},
		"Interval": 30e9, "Timeout": 3e9, "Retries": 3, "StartPeriod": 10e9,
	}
}

const (
	appID     = "4d9a1f3e2c7b6a5d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"
	sidecarID = "7b2c9e4f1a3d5b6c8e0f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d"
)

func mustJSON(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err) // only literal values above
	}
	return raw
}

func get(uri string) authorization.Request {
	return authorization.Request{
		RequestMethod:  "GET",
		RequestURI:     uri,
		RequestHeaders: map[string]string{"User-Agent": userAgent},
	}
}

func post(uri string, body []byte) authorization.Request {
	r := authorization.Request{
		RequestMethod:  "POST",
		RequestURI:     uri,
		RequestHeaders: map[string]string{"User-Agent": userAgent},
	}
	if body != nil {
		r.RequestBody = body
		r.RequestHeaders["Content-Type"] = "application/json"
	}
	return r
}

// responseOf is the AuthZRes dockerd sends for req: the request again,
// with the daemon's status, headers and (JSON) body.
func responseOf(req authorization.Request, status int, body string) *authorization.Request {
	res := req
	res.ResponseStatusCode = status
	res.ResponseHeaders = map[string]string{"Api-Version": "1.47", "Content-Type": "application/json", "Docker-Experimental": "false", "Ostype": "linux", "Server": "Docker/27.5.1 (linux)"}
	if body != "" {
		res.ResponseBody = []byte(body)
	}
	return &res
}

const projectFilter = `%7B%22label%22%3A%7B%22com.docker.compose.project%3Dseed%22%3Atrue%2C%22com.docker.compose.oneoff%3DFalse%22%3Atrue%7D%7D`

// Calls is every kind the load generator knows, in the order reports list
// them. Their weights are the mix: what one developer session sends, per
// 100 calls: `docker compose up -d` of the seed project's solution (the
// app and its curl sidecar in the app's network namespace), `docker
// compose ps` and `logs`, a `docker run --rm busybox`, a `docker ps`, and
// a `docker compose up` of the seed's problem (the hardened node image
// with a curl healthcheck, denied). Most of a session is pings, lists and
// inspects; creates are 5 in 100.
var Calls = buildCalls()

func buildCalls() []Call {
	ports := map[string]any{"3000/tcp": []map[string]string{{"HostIp": "", "HostPort": "3000"}}}
	// The seed solution's sidecar, as compose sends it: in the app's
	// network namespace (network_mode: "service:app"), which the plugin
	// resolves through the daemon.
	sidecarNS := composeCreate("app-health", "dhi.io/curl:8-debian13-dev", []string{"sleep", "infinity"}, curlProbe(), "container:"+appID, nil, "app:service_started:false")
	// The same sidecar on the project network, probing the app by name:
	// allowed from the create alone, no daemon needed.
	netProbe := curlProbe()
	netProbe["Test"] = []string{"CMD", "curl", "-f", "http://app:3000/health"}
	sidecar := composeCreate("app-health", "dhi.io/curl:8-debian13-dev", []string{"sleep", "infinity"}, netProbe, "seed_default", nil, "app:service_started:false")
	denied := composeCreate("app", "dhi.io/node:25-debian13-sfw-ent-dev", nil, curlProbe(), "seed_default", ports, "")
	app := composeCreate("app", "dhi.io/node:25-debian13-sfw-ent-dev", nil, nil, "seed_default", ports, "")
	busybox := map[string]any{
		"Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": true, "AttachStderr": true,
		"Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": nil, "Cmd": []string{"echo", "hello"},
		"Image": "busybox", "Volumes": nil, "WorkingDir": "", "Entrypoint": nil, "OnBuild": nil, "Labels": map[string]string{},
		"HostConfig":       map[string]any{"Binds": nil, "NetworkMode": "default", "AutoRemove": true, "RestartPolicy": map[string]any{"Name": "no"}, "LogConfig": map[string]any{"Type": "", "Config": nil}},
		"NetworkingConfig": map[string]any{"EndpointsConfig": map[string]any{}},
	}
	inspectBody := `{"Id":"` + appID + `","Created":"2026-01-01T00:00:00Z","Path":"docker-entrypoint.sh","Args":["node"],"State":{"Status":"running","Running":true,"Pid":4242,"ExitCode":0},"Image":"sha256:3c7f","Name":"/seed-app-1","Config":{"Image":"dhi.io/node:25-debian13-sfw-ent-dev","Labels":{"com.docker.compose.project":"seed","com.docker.compose.service":"app"}},"HostConfig":{"NetworkMode":"seed_default"}}`
	listBody := `[{"Id":"` + appID + `","Names":["/seed-app-1"],"Image":"dhi.io/node:25-debian13-sfw-ent-dev","State":"running","Status":"Up 2 seconds","Labels":{"com.docker.compose.project":"seed","com.docker.compose.service":"app"}},{"Id":"` + sidecarID + `","Names":["/seed-app-health-1"],"Image":"dhi.io/curl:8-debian13-dev","State":"running","Status":"Up 1 second (health: starting)","Labels":{"com.docker.compose.project":"seed","com.docker.compose.service":"app-health"}}]`

	calls := []Call{
		{Kind: "ping", Weight: 18, Allowed: true, Request: authorization.Request{RequestMethod: "HEAD", RequestURI: "/_ping", RequestHeaders: map[string]string{"User-Agent": userAgent}}},
		{Kind: "version", Weight: 4, Allowed: true, Request: get(apiPrefix + "/version")},
		{Kind: "info", Weight: 4, Allowed: true, Request: get(apiPrefix + "/info")},
		{Kind: "list", Weight: 16, Allowed: true, Request: get(apiPrefix + "/containers/json?all=1&filters=" + projectFilter)},
		{Kind: "inspect", Weight: 20, Allowed: true, Request: get(apiPrefix + "/containers/" + appID + "/json")},
		{Kind: "image-inspect", Weight: 9, Allowed: true, Request: get(apiPrefix + "/images/dhi.io/node:25-debian13-sfw-ent-dev/json")},
		{Kind: "network-list", Weight: 5, Allowed: true, Request: get(apiPrefix + "/networks?filters=%7B%22name%22%3A%7B%22seed_default%22%3Atrue%7D%7D")},
		{Kind: "network-create", Weight: 1, Allowed: true, Request: post(apiPrefix+"/networks/create", mustJSON(map[string]any{"Name": "seed_default", "Driver": "bridge", "Labels": map[string]string{"com.docker.compose.network": "default", "com.docker.compose.project": "seed", "com.docker.compose.version": "2.29.7"}}))},
		{Kind: "events", Weight: 2, Allowed: true, Request: get(apiPrefix + "/events?filters=" + projectFilter)},
		{Kind: "create-sidecar-ns", Weight: 1, Allowed: true, Request: post(apiPrefix+"/containers/create?name=seed-app-health-1", mustJSON(sidecarNS))},
		{Kind: "create-allow", Weight: 1, Allowed: true, Request: post(apiPrefix+"/containers/create?name=seed-app-health-1", mustJSON(sidecar))},
		{Kind: "create-app", Weight: 1, Allowed: true, Request: post(apiPrefix+"/containers/create?name=seed-app-1", mustJSON(app))},
		{Kind: "create-deny", Weight: 1, Allowed: false, Request: post(apiPrefix+"/containers/create?name=seed-app-1", mustJSON(denied))},
		{Kind: "create-busybox", Weight: 1, Allowed: true, Request: post(apiPrefix+"/containers/create", mustJSON(busybox))},
		{Kind: "attach", Weight: 4, Allowed: true, Request: post(apiPrefix+"/containers/"+appID+"/attach?logs=0&stderr=1&stdout=1&stream=1", nil)},
		{Kind: "start", Weight: 5, Allowed: true, Request: post(apiPrefix+"/containers/"+appID+"/start", nil)},
		{Kind: "wait", Weight: 3, Allowed: true, Request: post(apiPrefix+"/containers/"+sidecarID+"/wait?condition=next-exit", nil)},
		{Kind: "logs", Weight: 3, Allowed: true, Request: get(apiPrefix + "/containers/" + appID + "/logs?stderr=1&stdout=1&tail=all")},
		{Kind: "remove", Weight: 1, Allowed: true, Request: authorization.Request{RequestMethod: "DELETE", RequestURI: apiPrefix + "/containers/" + sidecarID + "?force=1", RequestHeaders: map[string]string{"User-Agent": userAgent}}},
	}
	for i := range calls {
		c := &calls[i]
		switch c.Kind {
		case "ping":
			c.Response = responseOf(c.Request, 200, "")
		case "version":
			c.Response = responseOf(c.Request, 200, `{"Platform":{"Name":"Docker Engine - Community"},"Version":"27.5.1","ApiVersion":"1.47","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}`)
		case "list":
			c.Response = responseOf(c.Request, 200, listBody)
		case "inspect":
			c.Response = responseOf(c.Request, 200, inspectBody)
		case "create-allow", "create-sidecar-ns", "create-app", "create-busybox":
			c.Response = responseOf(c.Request, 201, `{"Id":"`+sidecarID+`","Warnings":[]}`)
		case "start":
			c.Response = responseOf(c.Request, 204, "")
		}
	}
	return calls
}

// MixTotal is the sum of the weights: the mix's length.
func MixTotal() int {
	n := 0
	for _, c := range Calls {
		n += c.Weight
	}
	return n
}

// Kinds lists what --kind accepts: every call kind, and "mix".
func Kinds() []string {
	out := []string{"mix"}
	for _, c := range Calls {
		out = append(out, c.Kind)
	}
	return out
}

// Schedule is the sequence of calls one kind sends: the single call, or
// for "mix" each call Weight times, interleaved in a fixed order so that
// every target, and every run, sees the same sequence.
func Schedule(kind string) ([]Call, error) {
	if kind != "mix" {
		for _, c := range Calls {
			if c.Kind == kind {
				return []Call{c}, nil
			}
		}
		known := Kinds()
		sort.Strings(known[1:])
		return nil, fmt.Errorf("unknown kind %q: want one of %s", kind, strings.Join(known, ", "))
	}
	// Spread each kind evenly (its i-th copy at position (i+0.5)/Weight),
	// so a short run still sees the whole mix, not the pings first.
	type slot struct {
		at   float64
		call Call
	}
	var slots []slot
	for _, c := range Calls {
		for i := range c.Weight {
			slots = append(slots, slot{(float64(i) + 0.5) / float64(c.Weight), c})
		}
	}
	slices.SortStableFunc(slots, func(a, b slot) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	out := make([]Call, len(slots))
	for i, s := range slots {
		out[i] = s.call
	}
	return out, nil
}

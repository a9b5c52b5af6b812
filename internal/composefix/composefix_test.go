package composefix

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/policy"
)

const curlImage = "dhi.io/curl:8-debian13-dev"

var healthURL = []string{"CMD", "curl", "-f", "http://localhost:3000/health"}

// sidecar is the action the policies emit for an app whose healthcheck
// runs curl, with every timing set.
func sidecar(svc string) policy.Action {
	return policy.Action{
		Op: policy.ActionAddSidecar, Service: svc, Name: svc + "-health", Image: curlImage,
		Test: healthURL, Interval: "30s", Timeout: "3s", Retries: 3, StartPeriod: "10s",
		MemLimit: "32m", AppHealthcheck: "remove",
	}
}

// bare is sidecar without timings, for an app whose healthcheck had none.
func bare(svc string) policy.Action {
	a := sidecar(svc)
	a.Interval, a.Timeout, a.Retries, a.StartPeriod = "", "", 0, ""
	return a
}

func disable(svc string) policy.Action {
	a := bare(svc)
	a.AppHealthcheck = "disable"
	return a
}

func repoint(svc, from, to string) policy.Action {
	return policy.Action{Op: policy.ActionRepointDependsOn, Service: svc, From: from, To: to}
}

// keepAlive is the set_entrypoint action HA011 emits for a sidecar whose
// image has sleep.
func keepAlive(svc string) policy.Action {
	return policy.Action{Op: policy.ActionSetEntrypoint, Service: svc, Entrypoint: []string{"sleep", "infinity"}}
}

// keepAliveOn is keepAlive moving the service to image, for a sidecar
// whose image has no sleep.
func keepAliveOn(svc, image string) policy.Action {
	a := keepAlive(svc)
	a.Image = image
	return a
}

// sidecarBlock is the sidecar of sidecar(svc) at 2-space indentation.
func sidecarBlock(svc string) string {
	return `  ` + svc + `-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:` + svc + `"
    entrypoint: ["sleep", "infinity"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
      interval: 30s
      timeout: 3s
      retries: 3
      start_period: 10s
    mem_limit: 32m
`
}

func bareBlock(svc string) string {
	return `  ` + svc + `-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:` + svc + `"
    entrypoint: ["sleep", "infinity"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
    mem_limit: 32m
`
}

type testCase struct {
	name    string
	src     string
	actions []policy.Action
	want    string
	// skipped are substrings of the reasons of the skipped actions, in
	// order.
	skipped []string
	// noCompose marks inputs compose itself would refuse, so the result is
	// only checked as YAML.
	noCompose bool
}

var cases = []testCase{
	{
		name: "problem to solution",
		src: `services:
  app:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
      # FAILS: No curl in hardened image!
`,
		actions: []policy.Action{sidecar("app")},
		want: `services:
  app:
    image: dhi.io/node:25-debian13-sfw-ent-dev

` + sidecarBlock("app"),
	},
	{
		name: "comments inside the healthcheck, the next service's comment stays",
		src: `# The stack.
services:
  app:
    image: dhi.io/node:25-debian13-sfw-ent-dev # the app
    healthcheck:
      # probe the API
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
      interval: 30s   # often enough

      # retries below
      retries: 3
    ports:
      - "3000:3000"   # keep me

  # The database: this comment belongs to db.
  db:
    image: 'postgres:17'
`,
		actions: []policy.Action{bare("app")},
		want: `# The stack.
services:
  app:
    image: dhi.io/node:25-debian13-sfw-ent-dev # the app
    ports:
      - "3000:3000"   # keep me

` + bareBlock("app") + `
  # The database: this comment belongs to db.
  db:
    image: 'postgres:17'
`,
	},
	{
		name: "healthcheck last, a comment after it belongs to the next service",
		src: `services:
  app:
    image: dhi.io/node:25

    healthcheck:
      test:
        - CMD
        - curl
        - -f
        - http://localhost:3000/health
        # no curl here
  # db is next
  db:
    image: postgres:17
`,
		actions: []policy.Action{bare("app")},
		want: `services:
  app:
    image: dhi.io/node:25

` + bareBlock("app") + `  # db is next
  db:
    image: postgres:17
`,
	},
	{
		name: "4-space indentation",
		src: `services:
    app:
        image: dhi.io/node:25
        healthcheck:
            test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
            interval: 30s
            timeout: 3s
            retries: 3
            start_period: 10s
    web:
        image: nginx
        depends_on:
            app:
                condition: service_healthy
                restart: true
`,
		actions: []policy.Action{sidecar("app"), repoint("web", "app", "app-health")},
		want: `services:
    app:
        image: dhi.io/node:25

    app-health:
        image: dhi.io/curl:8-debian13-dev
        network_mode: "service:app"
        entrypoint: ["sleep", "infinity"]
        healthcheck:
            test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
            interval: 30s
            timeout: 3s
            retries: 3
            start_period: 10s
        mem_limit: 32m
    web:
        image: nginx
        depends_on:
            app-health:
                condition: service_healthy
                restart: true
`,
	},
	{
		name: "flow healthcheck",
		src: `services:
  app:
    healthcheck: {test: ["CMD", "curl", "-f", "http://localhost:3000/health"], interval: 30s}
    image: dhi.io/node:25
  db:
    image: postgres:17
`,
		actions: []policy.Action{bare("app")},
		want: `services:
  app:
    image: dhi.io/node:25

` + bareBlock("app") + `  db:
    image: postgres:17
`,
	},
	{
		name: "disable the healthcheck the file sets",
		src: `services:
  app:
    image: dhi.io/node:25
    healthcheck:
      interval: 5s
      retries: 10
    user: node
`,
		actions: []policy.Action{disable("app")},
		want: `services:
  app:
    image: dhi.io/node:25
    healthcheck:
      disable: true
    user: node

` + bareBlock("app"),
	},
	{
		name: "disable the image's healthcheck",
		src: `services:
  app:
    image: dhi.io/node:25
    user: node

volumes:
  data: {}
`,
		actions: []policy.Action{disable("app")},
		want: `services:
  app:
    image: dhi.io/node:25
    user: node
    healthcheck:
      disable: true

` + bareBlock("app") + `
volumes:
  data: {}
`,
	},
	{
		name: "depends_on long form",
		src: `services:
  app:
    image: dhi.io/node:25
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
  web:
    image: nginx
    depends_on:
      db:
        condition: service_started
      "app": # the API
        condition: service_healthy
  db:
    image: postgres:17
`,
		actions: []policy.Action{repoint("web", "app", "app-health")},
		want: `services:
  app:
    image: dhi.io/node:25
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
  web:
    image: nginx
    depends_on:
      db:
        condition: service_started
      "app-health": # the API
        condition: service_healthy
  db:
    image: postgres:17
`,
	},
	{
		name: "depends_on short form keeps quoting",
		src: `services:
  app:
    image: dhi.io/node:25
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
  api:
    image: dhi.io/node:25
  api-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:api"
  web:
    image: nginx
    depends_on:
    - 'app'   # same indentation as the key
    - api
`,
		actions: []policy.Action{repoint("web", "app", "app-health"), repoint("web", "api", "api-health")},
		want: `services:
  app:
    image: dhi.io/node:25
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
  api:
    image: dhi.io/node:25
  api-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:api"
  web:
    image: nginx
    depends_on:
    - 'app-health'   # same indentation as the key
    - api-health
`,
	},
	{
		name: "depends_on flow forms",
		src: `services:
  app:
    image: dhi.io/node:25
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
  web:
    image: nginx
    depends_on: [db, "app"]
  worker:
    image: nginx
    depends_on: {app: {condition: service_healthy}, db: {condition: service_started}}
  db:
    image: postgres:17
`,
		actions: []policy.Action{repoint("web", "app", "app-health"), repoint("worker", "app", "app-health")},
		want: `services:
  app:
    image: dhi.io/node:25
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
  web:
    image: nginx
    depends_on: [db, "app-health"]
  worker:
    image: nginx
    depends_on: {app-health: {condition: service_healthy}, db: {condition: service_started}}
  db:
    image: postgres:17
`,
	},
	{
		name: "To already present: From is removed",
		src: `services:
  app:
    image: dhi.io/node:25
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
  a:
    image: nginx
    depends_on:
      app:
        condition: service_healthy
        # waits for the API
      app-health:
        condition: service_healthy
  b:
    image: nginx
    depends_on:
      - app
      - app-health
  c:
    image: nginx
    depends_on: [app-health, app]
  d:
    image: nginx
    depends_on: {app: {condition: service_healthy}, app-health: {condition: service_healthy}}
`,
		actions: []policy.Action{
			repoint("a", "app", "app-health"), repoint("b", "app", "app-health"),
			repoint("c", "app", "app-health"), repoint("d", "app", "app-health"),
		},
		want: `services:
  app:
    image: dhi.io/node:25
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
  a:
    image: nginx
    depends_on:
      app-health:
        condition: service_healthy
  b:
    image: nginx
    depends_on:
      - app-health
  c:
    image: nginx
    depends_on: [app-health]
  d:
    image: nginx
    depends_on: {app-health: {condition: service_healthy}}
`,
	},
	{
		name: "service not in this file",
		src: `services:
  web:
    image: nginx
`,
		actions: []policy.Action{sidecar("app"), repoint("web", "app", "app-health"), repoint("api", "app", "app-health")},
		want: `services:
  web:
    image: nginx
`,
		skipped: []string{`service "app" is not defined in this file`, `service "web" has no depends_on in this file`, `service "api" is not defined`},
	},
	{
		name: "healthcheck from an anchor",
		src: `x-default: &default
  restart: unless-stopped
  healthcheck:
    test: ["CMD", "curl", "-f", "http://localhost:3000/health"]

services:
  app:
    <<: *default
    image: dhi.io/node:25
  api: &api
    image: dhi.io/node:25
    healthcheck: &hc
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
  worker:
    <<: *api
  other:
    healthcheck: *hc
    image: nginx
`,
		actions: []policy.Action{bare("app"), bare("api"), bare("worker")},
		want: `x-default: &default
  restart: unless-stopped
  healthcheck:
    test: ["CMD", "curl", "-f", "http://localhost:3000/health"]

services:
  app:
    <<: *default
    image: dhi.io/node:25
  api: &api
    image: dhi.io/node:25
    healthcheck: &hc
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
  worker:
    <<: *api
  other:
    healthcheck: *hc
    image: nginx
`,
		skipped: []string{"merge key", "YAML anchor that other parts of the file use", "merge key"},
	},
	{
		name: "own healthcheck hides a merged one",
		src: `x-base: &base
  healthcheck:
    test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
services:
  app:
    <<: *base
    image: dhi.io/node:25
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
`,
		actions: []policy.Action{bare("app")},
		want: `x-base: &base
  healthcheck:
    test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
services:
  app:
    <<: *base
    image: dhi.io/node:25
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
`,
		skipped: []string{"would bring back the one it merges"},
	},
	{
		name: "block scalar inside the healthcheck",
		src: `services:
  app:
    image: dhi.io/node:25
    healthcheck:
      test: |
        curl -f http://localhost:3000/health

        # still the script
      interval: 10s
    user: node
`,
		actions: []policy.Action{bare("app")},
		want: `services:
  app:
    image: dhi.io/node:25
    user: node

` + bareBlock("app"),
	},
	{
		name: "disable a flow healthcheck",
		src: `services:
  app:
    healthcheck: {test: ["CMD", "curl", "-f", "http://localhost:3000/health"], interval: 5s} # probe
    image: dhi.io/node:25
`,
		actions: []policy.Action{disable("app")},
		want: `services:
  app:
    healthcheck:
      disable: true
    image: dhi.io/node:25

` + bareBlock("app"),
	},
	{
		name:    "byte order mark",
		src:     "\uFEFFservices:\n  app:\n    image: dhi.io/node:25\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:3000/health\"]\n",
		actions: []policy.Action{bare("app")},
		want:    "\uFEFFservices:\n  app:\n    image: dhi.io/node:25\n\n" + bareBlock("app"),
	},
	{
		name:    "CRLF",
		src:     "services:\r\n  app:\r\n    image: dhi.io/node:25\r\n    healthcheck:\r\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:3000/health\"]\r\n  web:\r\n    image: nginx\r\n    depends_on:\r\n      - app\r\n",
		actions: []policy.Action{bare("app"), repoint("web", "app", "app-health")},
		want: strings.ReplaceAll(`services:
  app:
    image: dhi.io/node:25

`+bareBlock("app")+`  web:
    image: nginx
    depends_on:
      - app-health
`, "\n", "\r\n"),
	},
	{
		name: "no trailing newline",
		src: `services:
  app:
    image: dhi.io/node:25
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]`,
		actions: []policy.Action{bare("app")},
		want: `services:
  app:
    image: dhi.io/node:25

` + strings.TrimSuffix(bareBlock("app"), "\n"),
	},
	{
		name: "multi",
		src: `name: shop

services:
  frontend:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    ports: ["8080:3000"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
      interval: 30s
      timeout: 3s
      retries: 3
      start_period: 10s

  backend:
    image: dhi.io/python:3.13
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
      interval: 30s
      timeout: 3s
      retries: 3
      start_period: 10s
    environment:
      DB: postgres://db/shop

  e2e-tests:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    depends_on:
      frontend:
        condition: service_healthy
      backend:
        condition: service_healthy
`,
		actions: []policy.Action{
			sidecar("frontend"), sidecar("backend"),
			repoint("e2e-tests", "frontend", "frontend-health"), repoint("e2e-tests", "backend", "backend-health"),
		},
		want: `name: shop

services:
  frontend:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    ports: ["8080:3000"]

` + sidecarBlock("frontend") + `
  backend:
    image: dhi.io/python:3.13
    environment:
      DB: postgres://db/shop

` + sidecarBlock("backend") + `
  e2e-tests:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    depends_on:
      frontend-health:
        condition: service_healthy
      backend-health:
        condition: service_healthy
`,
	},
	{
		name: "seed multi: sidecars without a keep-alive",
		src: `services:
  frontend:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    ports:
      - "3000:3000"

  frontend-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:frontend"
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/"]

  backend-health:
    image: dhi.io/curl:8-debian13-dev   # the sidecar image
    network_mode: "service:frontend"
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/api/health"]
`,
		actions: []policy.Action{keepAlive("frontend-health"), keepAlive("backend-health")},
		want: `services:
  frontend:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    ports:
      - "3000:3000"

  frontend-health:
    image: dhi.io/curl:8-debian13-dev
    entrypoint: ["sleep", "infinity"]
    network_mode: "service:frontend"
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/"]

  backend-health:
    image: dhi.io/curl:8-debian13-dev   # the sidecar image
    entrypoint: ["sleep", "infinity"]
    network_mode: "service:frontend"
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/api/health"]
`,
	},
	{
		name: "runtime curl image: image switched, command removed",
		src: `services:
  api-health:
    image: "dhi.io/curl:8"
    command: ["-fsS", "http://localhost:8080/"]
    network_mode: "service:api"
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/"]
  api:
    image: dhi.io/node:25
`,
		actions: []policy.Action{keepAliveOn("api-health", curlImage)},
		want: `services:
  api-health:
    image: "dhi.io/curl:8-debian13-dev"
    entrypoint: ["sleep", "infinity"]
    network_mode: "service:api"
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/"]
  api:
    image: dhi.io/node:25
`,
	},
	{
		name: "entrypoint replaced, command last removed",
		src: `services:
  api-health:
    network_mode: "service:api"
    image: dhi.io/curl:8-debian13-dev
    entrypoint:
      - curl   # one request, then exit
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/"]
    command:
      - --help
  api:
    image: dhi.io/node:25
`,
		actions: []policy.Action{keepAlive("api-health")},
		want: `services:
  api-health:
    network_mode: "service:api"
    image: dhi.io/curl:8-debian13-dev
    entrypoint: ["sleep", "infinity"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/"]
  api:
    image: dhi.io/node:25
`,
	},
	{
		name: "no image key, command last: the entrypoint takes its place",
		src: `services:
  api-health:
    extends:
      file: base.yaml
      service: curl
    command: --help
  api:
    image: dhi.io/node:25
`,
		actions: []policy.Action{keepAlive("api-health")},
		want: `services:
  api-health:
    extends:
      file: base.yaml
      service: curl
    entrypoint: ["sleep", "infinity"]
  api:
    image: dhi.io/node:25
`,
		// extends names a file the test does not have.
		noCompose: true,
	},
	{
		name: "set_entrypoint: command from a merge key",
		src: `x-curl: &curl
  command: --help
services:
  api-health:
    <<: *curl
    image: dhi.io/curl:8-debian13-dev
`,
		actions: []policy.Action{keepAlive("api-health"), keepAliveOn("api", curlImage), keepAlive("nope")},
		want: `x-curl: &curl
  command: --help
services:
  api-health:
    <<: *curl
    image: dhi.io/curl:8-debian13-dev
`,
		skipped: []string{"the command of \"api-health\" comes from a YAML anchor", "service \"api\" is not defined", "service \"nope\" is not defined"},
	},
	{
		name: "sidecar name taken",
		src: `services:
  app:
    image: dhi.io/node:25
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
  app-health:
    image: busybox
`,
		actions: []policy.Action{bare("app")},
		want: `services:
  app:
    image: dhi.io/node:25
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
  app-health:
    image: busybox
`,
		skipped: []string{`a service named "app-health" already exists`},
	},
	{
		name: "sidecar already there: only the healthcheck goes",
		src: `services:
  app:
    image: dhi.io/node:25
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
    user: node
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: service:app
`,
		actions: []policy.Action{bare("app")},
		want: `services:
  app:
    image: dhi.io/node:25
    user: node
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: service:app
`,
	},
	{
		name: "only the first document",
		src: `services:
  app:
    image: dhi.io/node:25
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
---
services:
  app:
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
`,
		actions: []policy.Action{bare("app")},
		want: `services:
  app:
    image: dhi.io/node:25

` + bareBlock("app") + `---
services:
  app:
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
`,
		// compose-go reads every document.
		noCompose: true,
	},
	{
		name: "unicode and quoting",
		src: `services:
  "caf\u00e9":
    image: dhi.io/node:25 # café ☕
    healthcheck: {test: ["CMD", "curl", "-f", "http://localhost:3000/health"]}
  web:
    image: nginx
    depends_on: [é, "café", "ü"]
  é:
    image: nginx
  ü:
    image: nginx
`,
		actions: []policy.Action{bare("café"), repoint("web", "café", "café-health")},
		want: `services:
  "caf\u00e9":
    image: dhi.io/node:25 # café ☕

  "café-health":
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:café"
    entrypoint: ["sleep", "infinity"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
    mem_limit: 32m
  web:
    image: nginx
    depends_on: [é, "café-health", "ü"]
  é:
    image: nginx
  ü:
    image: nginx
`,
		// Compose allows only ASCII service names; the case is about
		// columns counted in characters, not bytes.
		noCompose: true,
	},
	{
		name: "strings that need quoting",
		src: `services:
  app:
    image: dhi.io/node:25
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
`,
		actions: []policy.Action{{
			Op: policy.ActionAddSidecar, Service: "app", Name: "true", Image: curlImage,
			Test:     []string{"CMD", "curl", "-f", `http://localhost:3000/a "b" #c`, "x: y", "\t\u2028"},
			Interval: "1m30s", Timeout: "10", MemLimit: "64 m",
		}},
		want: `services:
  app:
    image: dhi.io/node:25

  "true":
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
    entrypoint: ["sleep", "infinity"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/a \"b\" #c", "x: y", "\t\u2028"]
      interval: 1m30s
      timeout: "10"
    mem_limit: "64 m"
`,
		// The timings are not durations compose accepts.
		noCompose: true,
	},
}

func TestApply(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, skipped, err := Apply([]byte(tc.src), tc.actions)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if string(out) != tc.want {
				t.Errorf("output differs:\n%s", Diff("compose.yaml", []byte(tc.want), out))
			}
			if len(skipped) != len(tc.skipped) {
				t.Fatalf("skipped %d actions, want %d: %+v", len(skipped), len(tc.skipped), skipped)
			}
			for i, s := range skipped {
				if !strings.Contains(s.Reason, tc.skipped[i]) {
					t.Errorf("skipped[%d] = %q, want it to contain %q", i, s.Reason, tc.skipped[i])
				}
			}

			// A second run finds everything done.
			again, skipped2, err := Apply(out, tc.actions)
			if err != nil {
				t.Fatalf("second Apply: %v", err)
			}
			if string(again) != string(out) {
				t.Errorf("second run changed the file:\n%s", Diff("compose.yaml", out, again))
			}
			if len(skipped2) != len(tc.actions) {
				t.Errorf("second run skipped %d of %d actions: %+v", len(skipped2), len(tc.actions), skipped2)
			}

			if !tc.noCompose {
				loadCompose(t, writeFile(t, t.TempDir(), "compose.yaml", string(out)))
			}
		})
	}
}

// loadCompose proves that compose itself accepts the fixed files, as one
// project in the order given.
func loadCompose(t *testing.T, paths ...string) {
	t.Helper()
	opts, err := cli.NewProjectOptions(paths,
		cli.WithWorkingDirectory(filepath.Dir(paths[0])), cli.WithoutEnvironmentResolution, cli.WithName("fixtest"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.LoadProject(context.Background()); err != nil {
		var content []byte
		for _, p := range paths {
			b, _ := os.ReadFile(p)
			content = append(content, b...)
		}
		t.Errorf("compose rejects the result: %v\n%s", err, content)
	}
}

func TestApplyNotYAML(t *testing.T) {
	for _, src := range []string{"services: [\n", "a: 1\na: 2\n", "\tservices:\n  - x: {"} {
		if out, _, err := Apply([]byte(src), []policy.Action{sidecar("app")}); err == nil {
			t.Errorf("Apply(%q) = %q, want an error", src, out)
		}
	}
}

func TestApplyOddFiles(t *testing.T) {
	for _, src := range []string{
		"",
		"# only a comment\n",
		"[1, 2]\n",
		"services:\n",
		"services: {app: {image: x, healthcheck: {test: [CMD, curl]}}}\n",
		"services:\n  app:\n",
		"services:\n  app: {image: x}\n",
		"services:\n  app:\n    healthcheck:\n      test: [CMD, curl]\n",
		"services:\n  app: *x\n",
	} {
		out, skipped, err := Apply([]byte(src), []policy.Action{sidecar("app"), repoint("app", "a", "b")})
		if err != nil && src != "services:\n  app: *x\n" {
			t.Errorf("Apply(%q): %v", src, err)
			continue
		}
		if err == nil && string(out) != src {
			t.Errorf("Apply(%q) changed it to %q", src, out)
		}
		if err == nil && len(skipped) != 2 {
			t.Errorf("Apply(%q) skipped %+v, want both actions", src, skipped)
		}
	}
}

func TestDiff(t *testing.T) {
	if d := Diff("compose.yaml", []byte("a\n"), []byte("a\n")); d != "" {
		t.Errorf("Diff of equal files = %q", d)
	}
	d := Diff("compose.yaml", []byte("a\nb\n"), []byte("a\nc\n"))
	want := "--- a/compose.yaml\n+++ b/compose.yaml\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
	if d != want {
		t.Errorf("Diff = %q, want %q", d, want)
	}
}

func FuzzApply(f *testing.F) {
	for _, tc := range cases {
		f.Add([]byte(tc.src))
	}
	actions := []policy.Action{
		sidecar("app"), disable("frontend"), sidecar("backend"),
		repoint("web", "app", "app-health"), repoint("e2e-tests", "frontend", "frontend-health"),
		repoint("b", "app", "app-health"), keepAlive("app-health"), keepAliveOn("frontend", curlImage),
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, _, err := Apply(src, actions)
		if err != nil {
			return
		}
		var n yaml.Node
		if err := yaml.Unmarshal(out, &n); err != nil {
			t.Fatalf("output is not YAML: %v\n%q", err, out)
		}
	})
}

# Test fixtures shared by the library and rule tests (a *_test.rego file, so
# the engine never compiles it into the shipped policy).
#
#   import data.hardened.test.fixtures as fx
#   deny with input as fx.create({"image": fx.image("dhi.io/node", "25")})
package hardened.test.fixtures

url := "http://localhost:3000/health"

# ["CMD", "curl", "-f", URL] with the article's timings.
hc_cmd_curl := {
	"form": "cmd",
	"inherited": false,
	"test": ["CMD", "curl", "-f", url],
	"program": "curl",
	"args": ["-f", url],
	"probe_url": url,
	"interval_ns": 30000000000,
	"timeout_ns": 3000000000,
	"start_period_ns": 10000000000,
	"retries": 3,
}

# ["CMD-SHELL", "curl -f URL || exit 1"], no timings.
hc_shell_curl := {
	"form": "shell",
	"inherited": false,
	"test": ["CMD-SHELL", sprintf("curl -f %s || exit 1", [url])],
	"program": "/bin/sh",
	"args": [],
	"shell": ["/bin/sh", "-c"],
	"shell_command": sprintf("curl -f %s || exit 1", [url]),
	"commands": ["curl"],
	"probe_url": url,
	"interval_ns": 0,
	"timeout_ns": 0,
	"start_period_ns": 0,
	"retries": 0,
}

# hc_cmd(argv): an exec-form healthcheck without timings.
hc_cmd(argv) := {
	"form": "cmd",
	"inherited": false,
	"test": array.concat(["CMD"], argv),
	"program": argv[0],
	"args": array.slice(argv, 1, count(argv)),
	"probe_url": _first_url(argv),
	"interval_ns": 0,
	"timeout_ns": 0,
	"start_period_ns": 0,
	"retries": 0,
}

# hc_shell(command): a CMD-SHELL healthcheck run by /bin/sh -c.
hc_shell(command) := object.union(hc_shell_curl, {
	"test": ["CMD-SHELL", command],
	"shell_command": command,
	"commands": [split(trim_space(command), " ")[0]],
	"probe_url": _first_url(split(command, " ")),
})

# hc_invalid(test, problem): a test dockerd cannot run (form "invalid"),
# as the normalizer describes it: nothing to run, no probe.
hc_invalid(test, problem) := {
	"form": "invalid",
	"inherited": false,
	"test": test,
	"program": "",
	"args": [],
	"shell": [],
	"shell_command": "",
	"commands": [],
	"probe_url": "",
	"interval_ns": 0,
	"timeout_ns": 0,
	"start_period_ns": 0,
	"retries": 0,
	"problem": problem,
	"truncated": false,
}

_first_url(words) := u if {
	urls := [w | some w in words; regex.match(`^https?://`, w)]
	u := urls[0]
} else := ""

# image(repo, tag): an image the daemon knows, without labels.
image(repo, tag) := {
	"ref": sprintf("%s:%s", [trim_prefix(trim_prefix(repo, "docker.io/library/"), "docker.io/"), tag]),
	"repository": repo,
	"tag": tag,
	"digest": "",
	"source": "daemon",
	"found": true,
	"id": "sha256:0000",
	"labels": {},
	"shell": [],
	"error": "",
}

# The article's case: compose service "app" on dhi.io/node:25-...-dev with
# ["CMD", "curl", "-f", URL].
compose_create := {
	"source": "dockerd",
	"action": "container.create",
	"authz": {"plugin_name": "hardened-authz"},
	"request": {
		"method": "POST",
		"path": "/containers/create",
		"api_version": "1.41",
		"query": {"name": ["seed-app-1"]},
		"user": "",
		"auth_method": "",
		"user_agent": "docker-compose/1.29.2 docker-py/5.0.3 Linux/6.1.0",
	},
	"container": {
		"name": "seed-app-1",
		"compose": {"project": "seed", "service": "app"},
		"image": "dhi.io/node:25-debian13-sfw-ent-dev",
		"entrypoint": [],
		"command": [],
		"user": "",
		"path": ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"],
		"healthcheck": hc_cmd_curl,
		"network": {"mode": "network", "target": "seed_default"},
		"ports": [{"container_port": "3000/tcp", "host_ip": "", "host_port": "3000"}],
		"memory_bytes": 0,
		"labels": {"com.docker.compose.project": "seed", "com.docker.compose.service": "app"},
	},
	"image": image("dhi.io/node", "25-debian13-sfw-ent-dev"),
}

# The same container from `docker run --name web`: no compose labels.
run_create := object.union(
	object.remove(compose_create, ["container"]),
	{"request": {"query": {"name": ["web"]}, "user_agent": "Docker-Client/28.2.2 (linux)"}, "container": object.union(
		object.remove(compose_create.container, ["compose", "labels", "name"]),
		{"name": "web", "labels": {}},
	)},
)

# create(patch): compose_create deep-merged with patch (arrays replaced).
create(patch) := object.union(compose_create, patch)

# run(patch): run_create deep-merged with patch.
run(patch) := object.union(run_create, patch)

# with_hc(base, hc): base with its healthcheck replaced as a whole.
with_hc(base, hc) := object.union(
	object.remove(base, ["container"]),
	{"container": object.union(object.remove(base.container, ["healthcheck"]), {"healthcheck": hc})},
)

# with_image(base, img): base with its image replaced as a whole.
with_image(base, img) := object.union(object.remove(base, ["image"]), {"image": img})

# plugin(action, name): a plugin.* request aimed at plugin `name`.
plugin(action, name) := {
	"source": "dockerd",
	"action": action,
	"authz": {"plugin_name": "hardened-authz"},
	"request": {
		"method": "POST",
		"path": sprintf("/plugins/%s/%s", [name, trim_prefix(action, "plugin.")]),
		"api_version": "1.41",
		"query": {},
		"user": "",
		"auth_method": "",
		"user_agent": "Docker-Client/28.2.2 (linux)",
	},
	"plugin": {"name": name},
}

//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// composePluginDirs are where the docker CLI looks for its plugins, the
// user's first.
func composePluginDirs() []string {
	var dirs []string
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		dirs = append(dirs, filepath.Join(d, "cli-plugins"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".docker", "cli-plugins"))
	}
	return append(dirs, "/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
		"/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")
}

// findComposePlugin returns the docker-compose CLI plugin the docker CLI of
// whoever runs the suite would use. The suite runs docker with a
// configuration directory of its own, which links to it, so `docker compose`
// is the same compose v2 there.
func findComposePlugin() (string, error) {
	for _, d := range composePluginDirs() {
		p := filepath.Join(d, "docker-compose")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no docker compose v2 CLI plugin (docker-compose) in %s: run .ci/compose-v2.sh, which builds it and installs it as a docker CLI plugin",
		strings.Join(composePluginDirs(), ", "))
}

// linkComposePlugin makes plugin the docker-compose CLI plugin of the
// docker configuration directory configDir.
func linkComposePlugin(configDir, plugin string) error {
	dir := filepath.Join(configDir, "cli-plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Symlink(plugin, filepath.Join(dir, "docker-compose"))
}

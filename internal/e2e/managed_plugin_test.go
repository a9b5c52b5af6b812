//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestManagedPlugin installs hardened-authz the Docker-native way, as
// README's install section does: packaging/managed-plugin/create.sh
// assembles the plugin from the suite's static authz binary (no registry,
// no base image) and runs docker plugin create in the private dockerd;
// docker plugin set points it at the private dockerd's socket and sets
// AUTHZ_LOG_LEVEL; docker plugin enable starts it; daemon.json names it,
// in place of the suite's plugin, and a SIGHUP makes it dockerd's
// authorization plugin.
// It must then deny the seed's problem compose, and refuse docker plugin
// disable of itself by name, name:tag, full ID and ID prefix (HA090),
// which it recognises through the AUTHZ_PLUGIN_NAME that create.sh sets
// and plugin inspect on the mounted docker socket.
func TestManagedPlugin(t *testing.T) {
	name := "hardened-authz-managed-" + randomHex(3)
	ref := name + ":latest"
	cfgPath := filepath.Join(suite.Dir, "daemon.json")
	suiteCfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs last: after the compose project is
	// down, the suite's plugin goes back into daemon.json before the
	// managed one is disabled and removed (which it would refuse).
	t.Cleanup(func() {
		if err := reloadDaemonConfig(cfgPath, suiteCfg); err != nil {
			t.Errorf("restore the suite's daemon.json: %v", err)
		}
		if res := docker(t, time.Minute, "plugin", "inspect", "--format", "{{.Id}}", ref); !res.OK() {
			return // never created
		}
		if res := docker(t, 2*time.Minute, "plugin", "disable", "--force", ref); !res.OK() {
			t.Errorf("disable the managed plugin:\n%s", res)
		}
		if res := docker(t, 2*time.Minute, "plugin", "rm", "--force", ref); !res.OK() {
			t.Errorf("remove the managed plugin:\n%s", res)
		}
	})

	dir := filepath.Join(suite.Dir, "managed-plugin")
	res := suite.Docker.Run(3*time.Minute, filepath.Join(suite.Root, "packaging", "managed-plugin", "create.sh"),
		"--binary", suite.Plugin.Bin, "--dir", dir, name)
	t.Logf("%s", res)
	if !res.OK() {
		t.Fatalf("create.sh failed:\n%s", res)
	}
	var cfg struct {
		Interface struct {
			Types  []string
			Socket string
		}
		PropagatedMount string
		Env             []struct {
			Name     string
			Value    *string
			Settable []string
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "config.json")); err != nil || json.Unmarshal(data, &cfg) != nil {
		t.Fatalf("create.sh wrote no readable config.json in %s: %v", dir, err)
	}
	if strings.Join(cfg.Interface.Types, ",") != "docker.authz/1.0" || cfg.Interface.Socket != "hardened-authz.sock" || cfg.PropagatedMount != "/var/lib/hardened-authz" {
		t.Errorf("config.json: interface %v socket %q propagatedMount %q", cfg.Interface.Types, cfg.Interface.Socket, cfg.PropagatedMount)
	}
	// One setting for each flag that the plugin's layout does not fix.
	settable := map[string]bool{}
	for _, e := range cfg.Env {
		settable[e.Name] = strings.Join(e.Settable, ",") == "value"
		if e.Name == "AUTHZ_PLUGIN_NAME" && (e.Value == nil || *e.Value != ref) {
			t.Errorf("config.json sets AUTHZ_PLUGIN_NAME to %v, want %q", e.Value, ref)
		}
	}
	for v, want := range map[string]bool{"AUTHZ_PLUGIN_NAME": true, "AUTHZ_MODE": true, "AUTHZ_LOG_LEVEL": true, "AUTHZ_EXCEPTIONS": true, "AUTHZ_SOCKET": false, "AUTHZ_STATE_DIR": false} {
		if settable[v] != want {
			t.Errorf("config.json: %s settable is %v, want %v", v, settable[v], want)
		}
	}
	// The plugin's root is the binary and certificates: nothing to run a
	// shell or a package manager with.
	if _, err := os.Stat(filepath.Join(dir, "rootfs", "bin", "sh")); err == nil {
		t.Errorf("the plugin's root filesystem has a shell")
	}

	// The private dockerd's API socket stands in for the host's
	// /var/run/docker.sock, the mount's default source; and a flag is set
	// the managed plugin's way, as its environment variable.
	logOffset := fileSize(suite.Daemon.LogPath)
	mustDocker(t, time.Minute, "plugin", "set", ref, "docker-socket.source="+suite.Daemon.Socket, "AUTHZ_LOG_LEVEL=debug")
	mustDocker(t, 2*time.Minute, "plugin", "enable", ref)
	inspect := mustDocker(t, time.Minute, "plugin", "inspect", "--format", "{{.Id}} {{json .Settings.Env}}", ref)
	id, env, _ := strings.Cut(strings.TrimSpace(inspect.Stdout), " ")
	if len(id) != 64 {
		t.Fatalf("plugin inspect gave no ID: %q", inspect.Stdout)
	}
	if !strings.Contains(env, `"AUTHZ_PLUGIN_NAME=`+ref+`"`) {
		t.Errorf("the plugin's settings lack AUTHZ_PLUGIN_NAME=%s: %s", ref, env)
	}

	var daemonCfg map[string]any
	if err := json.Unmarshal(suiteCfg, &daemonCfg); err != nil {
		t.Fatal(err)
	}
	daemonCfg["authorization-plugins"] = []string{ref}
	managedCfg, err := json.MarshalIndent(daemonCfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := reloadDaemonConfig(cfgPath, managedCfg); err != nil {
		t.Fatal(err)
	}

	p := newProject(t, "managed", problemCompose)
	up := p.Compose(t, 2*time.Minute, "up", "-d")
	if up.OK() {
		t.Fatalf("docker-compose up succeeded; the managed plugin should have denied the app:\n%s", up)
	}
	requireContains(t, "docker-compose output", up.Out,
		"authorization denied by plugin "+ref, "HA002", `network_mode: "service:app"`)

	for _, target := range []string{name, ref, id, id[:12]} {
		res := docker(t, time.Minute, "plugin", "disable", target)
		if res.OK() {
			t.Errorf("docker plugin disable %s succeeded while %s is the authorization plugin", target, ref)
			continue
		}
		want := []string{"authorization denied by plugin " + ref, "HA090", "refusing to disable plugin", "it is this authorization plugin"}
		if target != name && target != ref {
			// Resolved through the daemon (plugin inspect on the mounted
			// socket), not refused merely for looking like an ID.
			want = append(want, `"`+target+`" (`+ref+`)`)
		}
		requireContains(t, "docker plugin disable "+target, res.Out, want...)
	}
	if res := mustDocker(t, time.Minute, "plugin", "inspect", "--format", "{{.Enabled}}", ref); strings.TrimSpace(res.Stdout) != "true" {
		t.Errorf("the managed plugin is no longer enabled: %s", res.Stdout)
	}
	// dockerd logs the plugin's output with its ID; AUTHZ_LOG_LEVEL=debug
	// must have made it log at debug.
	debug := false
	for _, line := range strings.Split(string(bytesSince(suite.Daemon.LogPath, logOffset)), "\n") {
		if strings.Contains(line, "plugin="+id) && strings.Contains(line, `\"level\":\"DEBUG\"`) {
			debug = true
			break
		}
	}
	if !debug {
		t.Errorf("dockerd's log has no debug line of plugin %s: AUTHZ_LOG_LEVEL=debug was not applied", id)
	}
}

// reloadDaemonConfig writes cfg to the private dockerd's daemon.json and
// sends it SIGHUP, then waits until its log says the configuration was
// reloaded ("authorization-plugins" is among what a reload changes).
func reloadDaemonConfig(path string, cfg []byte) error {
	offset := fileSize(suite.Daemon.LogPath)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, cfg, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if err := syscall.Kill(suite.Daemon.PID(), syscall.SIGHUP); err != nil {
		return fmt.Errorf("SIGHUP dockerd: %w", err)
	}
	var log []byte
	ok := waitFor(30*time.Second, 100*time.Millisecond, func() bool {
		log = bytesSince(suite.Daemon.LogPath, offset)
		return bytes.Contains(log, []byte("Reloaded configuration")) || bytes.Contains(log, []byte("Error reconfiguring"))
	})
	switch {
	case !ok:
		return fmt.Errorf("dockerd did not reload %s within 30 s; its log since the SIGHUP:\n%s", path, log)
	case bytes.Contains(log, []byte("Error reconfiguring")):
		return fmt.Errorf("dockerd refused %s:\n%s", path, log)
	}
	return nil
}

// bytesSince returns what the file at path holds after offset, nil when
// it cannot be read (yet).
func bytesSince(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	data, _ := io.ReadAll(f)
	return data
}

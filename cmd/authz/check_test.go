package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/check"
	"github.com/hardened-authz/hardened-authz/internal/compose"
)

// run runs the authz command line in-process and returns its output and
// exit status as main would set it.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	// No daemon: image facts come from the catalog, whatever the host has.
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	var out, errb bytes.Buffer
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		if err != errFindings {
			errb.WriteString("authz: " + err.Error() + "\n")
		}
		code = exitCode(err)
	}
	return out.String(), errb.String(), code
}

// seedCopy copies a seed example into a temporary directory, so --fix
// can rewrite it.
func seedCopy(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "seed", name, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), b, 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

func jsonReport(t *testing.T, stdout string) check.Report {
	t.Helper()
	var r check.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("--format json output is not the report: %v\n%s", err, stdout)
	}
	return r
}

func TestCheckSeedExitCodes(t *testing.T) {
	for _, tc := range []struct {
		seed  string
		code  int
		rules []string
	}{
		{"problem", 1, []string{"HA002"}},
		{"solution", 0, []string{"HA008"}},
		{"multi", 1, []string{"HA008", "HA011", "HA008", "HA011", "HA005", "HA005"}},
		{"production", 0, nil},
	} {
		t.Run(tc.seed, func(t *testing.T) {
			dir := filepath.Join("..", "..", "testdata", "seed", tc.seed)
			stdout, stderr, code := run(t, "check", "--format", "json", dir)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
			r := jsonReport(t, stdout)
			var rules []string
			for _, f := range r.Findings {
				rules = append(rules, f.Rule)
			}
			if strings.Join(rules, ",") != strings.Join(tc.rules, ",") {
				t.Errorf("rules %v, want %v", rules, tc.rules)
			}
			if r.Summary.Projects != 1 || r.Summary.Files != 1 || r.Summary.Services == 0 {
				t.Errorf("summary %+v", r.Summary)
			}
		})
	}
}

func TestCheckProblemPointsAtTheTestValue(t *testing.T) {
	dir := seedCopy(t, "problem")
	t.Chdir(dir)
	stdout, _, code := run(t, "check")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"compose.yaml", "5:13", "HA002", `runs "curl"`, "app-health:", `network_mode: "service:app"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, _ = run(t, "check", "--format", "json")
	f := jsonReport(t, stdout).Findings[0]
	if f.Rule != "HA002" || f.Severity != "error" || f.Service != "app" || f.Line != 5 || f.Column != 13 || f.ImageSource != "catalog" {
		t.Errorf("finding %+v", f)
	}
	if len(f.Fix.Actions) != 1 || f.Fix.Actions[0].Op != "add_sidecar" {
		t.Errorf("fix actions %+v", f.Fix.Actions)
	}
}

// --fix on the article's problem gives the article's solution shape, which
// then checks clean; --diff shows the same change and writes nothing.
func TestCheckFixProblem(t *testing.T) {
	dir := seedCopy(t, "problem")
	file := filepath.Join(dir, "compose.yaml")
	before, _ := os.ReadFile(file)

	diff, stderr, code := run(t, "check", "--diff", dir)
	if code != 1 {
		t.Errorf("--diff exit %d, want 1 (the file still has the error)\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(after, before) {
		t.Fatal("--diff wrote the file")
	}
	for _, want := range []string{"--- a/", "+++ b/", "+  app-health:", `+    network_mode: "service:app"`, `+    entrypoint: ["sleep", "infinity"]`, "+    mem_limit: 32m"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}

	stdout, stderr, code := run(t, "check", "--fix", dir)
	if code != 0 {
		t.Fatalf("--fix exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	fixed, _ := os.ReadFile(file)
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o640 {
		t.Errorf("--fix changed the file mode to %v", st.Mode().Perm())
	}
	p, err := compose.Load(context.Background(), compose.Options{ProjectDir: dir})
	if err != nil {
		t.Fatalf("the fixed file does not load: %v\n%s", err, fixed)
	}
	app, health := p.Model.Services["app"], p.Model.Services["app-health"]
	if app.HealthCheck != nil {
		t.Errorf("app keeps a healthcheck: %+v", app.HealthCheck)
	}
	if health.NetworkMode != "service:app" || strings.Join(health.Entrypoint, " ") != "sleep infinity" ||
		health.Image != "dhi.io/curl:8-debian13-dev" || health.MemLimit != 32*1024*1024 ||
		health.HealthCheck == nil || strings.Join(health.HealthCheck.Test, " ") != "CMD curl -f http://localhost:3000/health" {
		t.Errorf("sidecar is not the solution's shape:\n%s", fixed)
	}
	if !strings.Contains(stdout, "1 fix applied") {
		t.Errorf("output does not count the fix:\n%s", stdout)
	}

	// Fixed once, fixed for good.
	if _, _, code := run(t, "check", dir); code != 0 {
		t.Errorf("check after --fix: exit %d", code)
	}
	run(t, "check", "--fix", dir)
	if again, _ := os.ReadFile(file); !bytes.Equal(again, fixed) {
		t.Errorf("a second --fix changed the file:\n%s", again)
	}
}

// HA005: a service waiting for the app's broken healthcheck is repointed
// to the sidecar that --fix adds.
func TestCheckFixRepointsDependsOn(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	src := `# web waits for api
services:
  api:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    ports: ["8080:8080"]
    healthcheck:
      test: curl -f http://localhost:8080/healthz || exit 1
      interval: 10s
      retries: 5

  web:
    image: dhi.io/node:25-debian13-sfw-ent-dev
    depends_on:
      api:
        condition: service_healthy # wait for it
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, code := run(t, "check", "--format", "json", dir)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	var got []string
	for _, f := range jsonReport(t, stdout).Findings {
		got = append(got, f.Rule+" "+f.Service)
		if f.Rule == "HA005" && (f.Line != 14 || f.Column != 7) {
			t.Errorf("HA005 at %d:%d, want the depends_on entry at 14:7", f.Line, f.Column)
		}
	}
	if strings.Join(got, ",") != "HA002 api,HA005 web" {
		t.Errorf("findings %v", got)
	}

	if _, stderr, code := run(t, "check", "--fix", dir); code != 0 {
		t.Fatalf("--fix exit %d\n%s", code, stderr)
	}
	fixed, _ := os.ReadFile(file)
	for _, want := range []string{"# web waits for api", "  api-health:\n", "      interval: 10s\n", "      retries: 5\n", "      api-health:\n        condition: service_healthy # wait for it"} {
		if !strings.Contains(string(fixed), want) {
			t.Errorf("fixed file lacks %q:\n%s", want, fixed)
		}
	}
}

func TestCheckFormats(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "seed", "problem")
	for format, want := range map[string]string{
		"sarif":  `"ruleId": "HA002"`,
		"junit":  `<failure`,
		"github": "::error file=",
		"text":   "HA002",
	} {
		stdout, _, code := run(t, "check", "--format", format, dir)
		if code != 1 || !strings.Contains(stdout, want) {
			t.Errorf("--format %s: exit %d, output lacks %q:\n%s", format, code, want, stdout)
		}
	}
}

func TestCheckUsageAndLoadErrors(t *testing.T) {
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "compose.yaml"), []byte("services:\n  app:\n    image: [unclosed\n"), 0o644)
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"check", "--format", "xml"}, `--format "xml"`},
		{"fix and diff", []string{"check", "--fix", "--diff"}, "choose one"},
		{"unknown target", []string{"check", "--target", "k8s"}, `--target "k8s"`},
		{"fix a stack", []string{"check", "--target", "stack", "--fix"}, "without --target stack"},
		{"diff a stack", []string{"check", "--target", "stack", "--diff"}, "without --target stack"},
		{"missing path", []string{"check", filepath.Join(empty, "nope")}, "no such file"},
		{"-f with paths", []string{"check", "-f", "a.yaml", empty}, "without PATH"},
		{"no compose file", []string{"check", empty}, "no compose file"},
		{"broken yaml", []string{"check", broken}, filepath.Join(broken, "compose.yaml")},
		{"bad policy dir", []string{"check", "--policy", filepath.Join(empty, "nope"), empty}, "nope"},
		{"no-daemon with docker-host", []string{"check", "--no-daemon", "--docker-host", "unix:///x.sock", empty}, "choose one"},
		{"unreachable daemon", []string{"check", "--docker-host", "unix://" + filepath.Join(empty, "d.sock"), filepath.Join("..", "..", "testdata", "seed", "problem")}, "does not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2\n%s%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr)
			}
			// Nothing checked: no report that could pass for a clean run.
			if stdout != "" {
				t.Errorf("stdout is not empty:\n%s", stdout)
			}
		})
	}
}

// One project that loads and one that does not: the report covers the
// first, and the exit status says the second failed.
func TestCheckPartialLoadFailure(t *testing.T) {
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "compose.yaml"), []byte("services: [\n"), 0o644)
	stdout, stderr, code := run(t, "check", "--no-daemon", "--format", "json", filepath.Join("..", "..", "testdata", "seed", "problem"), broken)
	if code != 2 || !strings.Contains(stderr, broken) {
		t.Fatalf("exit %d, want 2 naming %s\n%s", code, broken, stderr)
	}
	if r := jsonReport(t, stdout); r.Summary.Projects != 1 || r.Summary.Errors != 1 {
		t.Errorf("summary %+v", r.Summary)
	}
}

// Paths are projects of their own; compose.yaml stands for its directory,
// so pre-commit's file list checks each project once.
func TestCheckPathsAreProjects(t *testing.T) {
	seed := filepath.Join("..", "..", "testdata", "seed")
	stdout, _, code := run(t, "check", "--format", "json",
		filepath.Join(seed, "problem", "compose.yaml"), filepath.Join(seed, "problem"), filepath.Join(seed, "solution", "compose.yaml"))
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	r := jsonReport(t, stdout)
	if r.Summary.Projects != 2 || r.Summary.Errors != 1 || r.Summary.Warnings != 1 {
		t.Errorf("summary %+v", r.Summary)
	}
}

// --target stack checks each service as the swarm service docker stack
// deploy creates: HA002 on the problem gets the swarm fix, the solution's
// network_mode "service:app" is HA010, and the default target is
// unchanged.
func TestCheckTargetStack(t *testing.T) {
	seed := func(name string) string { return filepath.Join("..", "..", "testdata", "seed", name) }
	findings := func(t *testing.T, wantCode int, args ...string) []check.Finding {
		t.Helper()
		stdout, stderr, code := run(t, append([]string{"check", "--format", "json"}, args...)...)
		if code != wantCode {
			t.Fatalf("exit %d, want %d\n%s%s", code, wantCode, stdout, stderr)
		}
		return jsonReport(t, stdout).Findings
	}

	t.Run("problem", func(t *testing.T) {
		fs := findings(t, 1, "--target", "stack", seed("problem"))
		if len(fs) != 1 || fs[0].Rule != "HA002" || fs[0].Service != "app" || fs[0].Line != 5 || fs[0].Column != 13 {
			t.Fatalf("findings %+v, want HA002 on app at 5:13", fs)
		}
		f := fs[0]
		for _, want := range []string{"Swarm services cannot share a network namespace", "http://problem_app:3000/health"} {
			if !strings.Contains(f.Fix.Summary, want) {
				t.Errorf("fix %q lacks %q", f.Fix.Summary, want)
			}
		}
		if !strings.Contains(f.Message, `service "problem_app"`) {
			t.Errorf("message %q does not name the swarm service", f.Message)
		}
		if len(f.Fix.Actions) != 0 || f.Fix.Compose != "" {
			t.Errorf("a stack finding has a compose fix: %+v", f.Fix)
		}
	})

	t.Run("solution", func(t *testing.T) {
		fs := findings(t, 1, "--target", "stack", seed("solution"))
		var ha010 *check.Finding
		for i, f := range fs {
			if f.Rule == "HA010" {
				ha010 = &fs[i]
			}
		}
		if ha010 == nil {
			t.Fatalf("no HA010 in %+v", fs)
		}
		if ha010.Service != "app-health" || ha010.Severity != "error" || ha010.Line != 12 || ha010.Column != 5 || !strings.Contains(ha010.Message, `network_mode "service:app"`) {
			t.Errorf("HA010 %+v", *ha010)
		}
	})

	t.Run("depends_on is not a stack's", func(t *testing.T) {
		// HA005's bad example waits for a service that has no
		// healthcheck: swarm ignores depends_on, so nothing is left.
		file := filepath.Join("..", "..", "testdata", "rules", "HA005", "bad.compose.yaml")
		findings(t, 1, "--no-daemon", file)
		for _, f := range findings(t, 0, "--no-daemon", "--target", "stack", file) {
			if f.Rule == "HA005" || f.Rule == "HA006" {
				t.Errorf("project rule under --target stack: %+v", f)
			}
		}
	})

	t.Run("default target unchanged", func(t *testing.T) {
		for _, tc := range []struct {
			seed string
			code int
		}{{"problem", 1}, {"solution", 0}, {"multi", 1}} {
			def := findings(t, tc.code, seed(tc.seed))
			explicit := findings(t, tc.code, "--target", "compose", seed(tc.seed))
			if len(def) == 0 {
				t.Errorf("%s: no findings", tc.seed)
			}
			a, _ := json.Marshal(def)
			b, _ := json.Marshal(explicit)
			if string(a) != string(b) {
				t.Errorf("%s: --target compose differs from the default:\n%s\n%s", tc.seed, a, b)
			}
			for _, f := range def {
				if f.Rule == "HA010" || strings.Contains(f.Fix.Summary, "Swarm") {
					t.Errorf("%s: stack finding under the default target: %+v", tc.seed, f)
				}
			}
		}
	})
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/check"
	"github.com/hardened-authz/hardened-authz/internal/compose"
	"github.com/hardened-authz/hardened-authz/internal/dockerhost"
	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/imagescan"
	"github.com/hardened-authz/hardened-authz/internal/report"
)

type checkOptions struct {
	files       []string
	projectDir  string
	projectName string
	envFiles    []string
	profiles    []string
	format      string
	policyDirs  []string
	dockerHost  string
	noDaemon    bool
	stateDir    string
	deadlines   imagefacts.Deadlines
	fix         bool
	diff        bool
	target      string
	enforcement enforcementOptions
}

// checkTargetKinds are the values of --target: how the project will be
// deployed.
var checkTargetKinds = []string{"compose", "stack"}

// errFindings makes the command exit 1 once the report is written: the
// check ran and found errors.
var errFindings = errors.New("errors found")

func newCheckCommand() *cobra.Command {
	o := checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [PATH]...",
		Short: "Check compose projects with the plugin's policies",
		Long: `Check compose projects with the same policies the plugin enforces at
dockerd, before anything runs: healthchecks that cannot run in their image,
sidecars that cannot do their job, services that wait for a healthcheck
that can never pass.

Projects load as docker compose (v2) loads them: override files, extends,
include, .env and interpolation, COMPOSE_FILE, COMPOSE_PROFILES,
COMPOSE_PROJECT_NAME and COMPOSE_ENV_FILES from the environment or .env,
profiles. Without -f and PATH, the project is found from the current
directory upwards as docker compose finds it, and the .env of its
directory is read too. Each PATH is checked as its own project: a
directory, or a compose file (compose.yaml and the like stand for the
project of their directory, with its override file; any other file is
loaded alone). Remote include and extends (git, oci://) are not fetched;
compose and env files must be regular files of at most 16 MiB.

Image facts come from the local Docker daemon when --docker-host is given
or the default daemon answers and has the image (its files are indexed);
otherwise from the name and the catalog. Each finding says which.

--mode warn (or dryrun) reports every error as a warning; --exceptions
skips the findings an operator accepted, each shown with its reason.

Exit status: 0 no errors (warnings and skipped findings allowed), 1 at least one error,
2 usage error or a project that does not load, 130 interrupted (SIGINT,
Ctrl-C), 143 terminated (SIGTERM).`,
		Example: `  authz check                          # the project in this directory
  authz check -f compose.yaml -f compose.prod.yaml --profile debug
  authz check --format sarif > authz.sarif
  authz check --diff                   # show the fix
  authz check --fix                    # apply it
  authz check --target stack           # as docker stack deploy creates it`,
		RunE: func(cmd *cobra.Command, args []string) error { return runCheck(cmd, args, o) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "file", "f", nil, "compose file, as docker compose -f (repeatable; later files override earlier ones)")
	f.StringVar(&o.projectDir, "project-directory", "", "project directory (default: the first file's directory)")
	f.StringVarP(&o.projectName, "project-name", "p", "", "project name, as docker compose -p (default: $COMPOSE_PROJECT_NAME, else the files' name:, else the project directory's name)")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "interpolation environment file (repeatable; default: $COMPOSE_ENV_FILES, else the .env of the working and project directories)")
	f.StringArrayVar(&o.profiles, "profile", nil, "profile to enable (repeatable; replaces $COMPOSE_PROFILES, which the .env may set; \"*\" enables all)")
	f.StringVar(&o.format, "format", report.Formats[0], "output format: "+strings.Join(report.Formats, ", "))
	f.StringArrayVar(&o.policyDirs, "policy", nil, "directory of policies laid over the embedded ones (repeatable)")
	f.StringVar(&o.dockerHost, "docker-host", "", "daemon to take image facts from; it must answer (default: $DOCKER_HOST, else "+client.DefaultDockerHost+", when it answers)")
	f.BoolVar(&o.noDaemon, "no-daemon", false, "never ask a Docker daemon: image facts from the name and the catalog alone (reproducible across machines)")
	f.StringVar(&o.stateDir, "state-dir", "", "keep image indexes in this directory between runs (default: none, each run scans the daemon's images again)")
	f.DurationVar(&o.deadlines.Daemon, "daemon-timeout", imagefacts.ToolDeadlines.Daemon, "deadline for one call to the daemon (image inspect)")
	f.DurationVar(&o.deadlines.Scan, "scan-timeout", imagefacts.ToolDeadlines.Scan, "how long to wait for one image's file index")
	f.BoolVar(&o.fix, "fix", false, "rewrite the compose files: move healthchecks that cannot run into sidecars and repoint depends_on")
	f.BoolVar(&o.diff, "diff", false, "print the --fix changes as a unified diff and write nothing")
	f.StringVar(&o.target, "target", checkTargetKinds[0], "how the project is deployed: compose (docker compose up) or stack (docker stack deploy: swarm services named <project>_<service>)")
	o.enforcement.addFlags(cmd, "warn and dryrun report errors as warnings (exit 0)")
	return cmd
}

func runCheck(cmd *cobra.Command, args []string, o checkOptions) error {
	ctx, stop := interruptible(cmd.Context(), cmd.ErrOrStderr())
	defer stop()
	if !slices.Contains(report.Formats, o.format) {
		return usageError{fmt.Errorf("--format %q: want one of %s", o.format, strings.Join(report.Formats, ", "))}
	}
	if o.noDaemon && o.dockerHost != "" {
		return usageError{errors.New("--no-daemon and --docker-host: choose one")}
	}
	if !slices.Contains(checkTargetKinds, o.target) {
		return usageError{fmt.Errorf("--target %q: want one of %s", o.target, strings.Join(checkTargetKinds, ", "))}
	}
	if o.target == "stack" && (o.fix || o.diff) {
		return usageError{errors.New("--fix and --diff rewrite compose files for docker compose (sidecars sharing a network namespace), which a stack cannot have: use them without --target stack")}
	}
	if o.fix && o.diff {
		return usageError{errors.New("--fix and --diff: choose one (--diff only shows what --fix writes)")}
	}
	if err := o.deadlines.Validate(); err != nil {
		return usageError{err}
	}
	targets, err := checkTargets(args, o)
	if err != nil {
		return err
	}
	enforcement, warnings, err := o.enforcement.load(time.Now())
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "authz: warning:", w)
	}
	// The projects load while the policies compile: the two are
	// independent, and on a CI runner's two cores compose-go's loading
	// (its schema, the files) then costs no wall time. --fix reloads after
	// each rewrite, which a later project's early load could miss (an
	// included file), so it loads each project when it comes.
	var loads []<-chan loaded
	if !o.fix {
		loads = loadAhead(ctx, targets)
	}
	engine, err := newEngine(ctx, o.policyDirs)
	if err != nil {
		return usageError{err}
	}
	checker := &check.Checker{Engine: engine, Stack: o.target == "stack", Enforcement: enforcement}
	if !o.noDaemon {
		cli, _, err := dockerhost.Answering(ctx, o.dockerHost)
		if err != nil {
			return usageError{err}
		}
		if cli != nil {
			defer cli.Close()
			checker.Images = imagefacts.NewSource(cli, imagescan.New(cli, o.stateDir, nil), o.deadlines)
		}
	}

	stderr := cmd.ErrOrStderr()
	rep := check.Report{Findings: []check.Finding{}}
	loadFailed := false
	for i, t := range targets {
		var p *compose.Project
		var findings []check.Finding
		if loads != nil {
			l := <-loads[i]
			p, err = l.p, l.err
			if err == nil {
				findings, err = checker.Check(ctx, p)
			}
		} else {
			p, findings, err = checkProject(ctx, checker, t)
		}
		if err != nil {
			fmt.Fprintln(stderr, "authz:", err)
			loadFailed = true
			continue
		}
		if o.fix || o.diff {
			n, err := fixProject(cmd, p, findings, o.diff)
			if err != nil {
				fmt.Fprintln(stderr, "authz:", err)
				loadFailed = true
				continue
			}
			rep.Summary.Fixed += n
			if o.fix && n > 0 {
				// Report what is left in the rewritten files.
				if p, findings, err = checkProject(ctx, checker, t); err != nil {
					fmt.Fprintln(stderr, "authz: after --fix:", err)
					loadFailed = true
					continue
				}
			}
		}
		rep.Summary.Projects++
		rep.Summary.Files += len(p.Files)
		rep.Summary.Services += len(p.Model.Services)
		rep.Summary.Off += checker.Off()
		rep.Findings = append(rep.Findings, findings...)
	}
	rep.Summary = check.Summarize(rep.Findings, rep.Summary)

	if loadFailed && rep.Summary.Projects == 0 {
		// Nothing was checked: an empty report would read as a clean run.
		return usageError{errors.New("no project could be checked (see above)")}
	}
	if o.diff {
		// stdout is the diff; say on stderr what the files still have.
		fmt.Fprintf(stderr, "authz: %s before the fix; %s in the diff\n", plural(rep.Summary.Errors, "error"), plural(rep.Summary.Fixed, "fix action"))
	} else {
		wd, _ := os.Getwd()
		opts := report.Options{Version: version, BaseDir: wd, Color: o.format == "text" && colorful(cmd.OutOrStdout())}
		if err := report.Write(cmd.OutOrStdout(), o.format, rep, opts); err != nil {
			return err
		}
	}
	switch {
	case loadFailed:
		return usageError{errors.New("some projects could not be checked (see above)")}
	case rep.Summary.Errors > 0:
		return errFindings
	}
	return nil
}

// checkTarget is one project to load.
type checkTarget struct {
	opts compose.Options
	name string // for messages: the path given
}

// checkTargets turns -f and PATH arguments into projects: -f files make
// one project, as with docker compose; each PATH is a project of its own.
func checkTargets(args []string, o checkOptions) ([]checkTarget, error) {
	base := compose.Options{Files: o.files, ProjectDir: o.projectDir, ProjectName: o.projectName, EnvFiles: o.envFiles, Profiles: o.profiles}
	if len(args) == 0 {
		return []checkTarget{{opts: base, name: "."}}, nil
	}
	if len(o.files) > 0 || o.projectDir != "" {
		return nil, usageError{errors.New("-f and --project-directory describe one project: give them without PATH arguments")}
	}
	var targets []checkTarget
	seen := map[string]bool{}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", a, err)}
		}
		t := checkTarget{opts: base, name: a}
		switch {
		case st.IsDir():
			t.opts.ProjectDir = a
		case isProjectFile(a):
			// compose.yaml or its override: the project of the directory.
			t.opts.ProjectDir = filepath.Dir(a)
		default:
			t.opts.Files = []string{a}
		}
		key := t.opts.ProjectDir + "\x00" + strings.Join(t.opts.Files, "\x00")
		if abs, err := filepath.Abs(t.opts.ProjectDir); err == nil && len(t.opts.Files) == 0 {
			key = abs
		}
		if !seen[key] {
			seen[key] = true
			targets = append(targets, t)
		}
	}
	return targets, nil
}

// isProjectFile reports whether file is one docker compose finds by
// itself in its directory: the compose.yaml (or the like) that it prefers
// there, or an override file next to one. Another file is loaded alone,
// as asked: a docker-compose.yml next to a compose.yaml (which docker
// compose would prefer), or an override file without its base file (which
// docker compose would not even find, looking in the parent directories).
func isProjectFile(file string) bool {
	dir, name := filepath.Dir(file), filepath.Base(file)
	base := ""
	for _, d := range cli.DefaultFileNames {
		if st, err := os.Stat(filepath.Join(dir, d)); err == nil && !st.IsDir() {
			base = d
			break
		}
	}
	if base == "" {
		return false
	}
	return name == base || slices.Contains(cli.DefaultOverrideFileNames, name)
}

// interruptGrace is how long an interrupted check has to return once its
// context is cancelled before the process exits anyway: long enough for
// work that observes the context (daemon calls, loading, evaluation) to
// return and for a --fix rename to finish, short enough to feel
// immediate when something does not (a read stuck in the kernel).
const interruptGrace = 500 * time.Millisecond

// interruptible returns ctx cancelled on SIGINT or SIGTERM; the process
// then exits with the shell's status for that signal, 130 or 143, once
// the command returns (stop blocks until then) or after interruptGrace,
// whichever comes first, and never with the status of the cancelled
// work. stop ends the watch when no signal came.
func interruptible(parent context.Context, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	returned := make(chan struct{})
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		select {
		case sig := <-signals:
			cancel()
			code := 128 + int(sig.(syscall.Signal))
			fmt.Fprintf(stderr, "authz: %s: stopping (exit status %d)\n", sig, code)
			select {
			case <-returned:
			case <-time.After(interruptGrace):
			}
			os.Exit(code)
		case <-returned:
		}
	}()
	return ctx, func() {
		signal.Stop(signals)
		close(returned)
		<-watching // never returns after a signal: the watcher exits
		cancel()
	}
}

// loaded is a project compose.Load loaded, or its error.
type loaded struct {
	p   *compose.Project
	err error
}

// loadAhead loads targets one after the other in the background, each
// into its channel, in order, so that the first is ready as soon as
// possible. It stops early when ctx is done; the loads left then report
// ctx's error.
func loadAhead(ctx context.Context, targets []checkTarget) []<-chan loaded {
	chans := make([]chan loaded, len(targets))
	out := make([]<-chan loaded, len(targets))
	for i := range chans {
		chans[i] = make(chan loaded, 1)
		out[i] = chans[i]
	}
	go func() {
		for i, t := range targets {
			if err := ctx.Err(); err != nil {
				chans[i] <- loaded{err: err}
				continue
			}
			p, err := compose.Load(ctx, t.opts)
			chans[i] <- loaded{p, err}
		}
	}()
	return out
}

func checkProject(ctx context.Context, c *check.Checker, t checkTarget) (*compose.Project, []check.Finding, error) {
	p, err := compose.Load(ctx, t.opts)
	if err != nil {
		return nil, nil, err
	}
	findings, err := c.Check(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	return p, findings, nil
}

// colorful reports whether w is a terminal that wants colour.
func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

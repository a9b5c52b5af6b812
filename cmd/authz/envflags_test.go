package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"mode":         "AUTHZ_MODE",
		"log-level":    "AUTHZ_LOG_LEVEL",
		"plugin-name":  "AUTHZ_PLUGIN_NAME",
		"metrics-addr": "AUTHZ_METRICS_ADDR",
	} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}

type testFlags struct {
	mode    string
	timeout time.Duration
	watch   bool
	max     int
	policy  []string
	fs      *pflag.FlagSet
}

func newTestFlags() *testFlags {
	f := &testFlags{fs: pflag.NewFlagSet("serve", pflag.ContinueOnError)}
	f.fs.StringVar(&f.mode, "mode", "enforce", "")
	f.fs.DurationVar(&f.timeout, "daemon-timeout", time.Second, "")
	f.fs.BoolVar(&f.watch, "watch", true, "")
	f.fs.IntVar(&f.max, "max-evaluations", 4, "")
	f.fs.StringArrayVar(&f.policy, "policy", nil, "")
	f.fs.String("secret", "", "")
	_ = f.fs.MarkHidden("secret")
	return f
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestApplyEnvSetsUnchangedFlags(t *testing.T) {
	f := newTestFlags()
	if err := f.fs.Parse([]string{"--mode", "dryrun"}); err != nil {
		t.Fatal(err)
	}
	fromEnv := map[string]envSource{}
	err := applyEnv(f.fs, lookupIn(map[string]string{
		"AUTHZ_MODE":            "warn", // the command line wins
		"AUTHZ_DAEMON_TIMEOUT":  "250ms",
		"AUTHZ_WATCH":           "false",
		"AUTHZ_MAX_EVALUATIONS": "", // empty: as if unset
		"AUTHZ_POLICY":          "/etc/a,/etc/b",
		"AUTHZ_SECRET":          "x", // hidden flags are not bound
	}), fromEnv)
	if err != nil {
		t.Fatal(err)
	}
	if f.mode != "dryrun" || f.timeout != 250*time.Millisecond || f.watch || f.max != 4 ||
		!reflect.DeepEqual(f.policy, []string{"/etc/a", "/etc/b"}) {
		t.Errorf("flags after applyEnv: mode %q timeout %s watch %v max %d policy %q", f.mode, f.timeout, f.watch, f.max, f.policy)
	}
	if s, _ := f.fs.GetString("secret"); s != "" {
		t.Errorf("hidden flag set from the environment: %q", s)
	}
	want := map[string]envSource{
		"daemon-timeout": {"AUTHZ_DAEMON_TIMEOUT", "250ms"},
		"watch":          {"AUTHZ_WATCH", "false"},
		"policy":         {"AUTHZ_POLICY", "/etc/a,/etc/b"},
	}
	if !reflect.DeepEqual(fromEnv, want) {
		t.Errorf("fromEnv = %v, want %v", fromEnv, want)
	}
	if !f.fs.Changed("watch") {
		t.Error("a flag set from the environment is not marked changed")
	}
}

func TestApplyEnvInvalidValueNamesTheVariable(t *testing.T) {
	f := newTestFlags()
	err := applyEnv(f.fs, lookupIn(map[string]string{"AUTHZ_DAEMON_TIMEOUT": "soon", "AUTHZ_WATCH": "maybe"}), map[string]envSource{})
	var u usageError
	if !errors.As(err, &u) {
		t.Fatalf("err = %v, want a usage error", err)
	}
	for _, want := range []string{`$AUTHZ_DAEMON_TIMEOUT="soon": invalid value for --daemon-timeout`, `$AUTHZ_WATCH="maybe": invalid value for --watch`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestMentionsFlag(t *testing.T) {
	for _, tc := range []struct {
		msg, flag string
		want      bool
	}{
		{`--mode "x": want one of enforce`, "mode", true},
		{`bad value for --mode`, "mode", true},
		{`--mode-file x`, "mode", false},
		{`--mode-file x and --mode y`, "mode", true},
		{`--decision-log too`, "log", false},
	} {
		if got := mentionsFlag(tc.msg, tc.flag); got != tc.want {
			t.Errorf("mentionsFlag(%q, %q) = %v, want %v", tc.msg, tc.flag, got, tc.want)
		}
	}
}

// runServeCmd runs `authz serve args...` in this process and returns its
// error.
func runServeCmd(t *testing.T, args ...string) error {
	t.Helper()
	cmd := newRootCommand()
	cmd.SetArgs(append([]string{"serve", "--socket", filepath.Join(t.TempDir(), "p.sock"), "--state-dir", ""}, args...))
	cmd.SetErr(io.Discard)
	cmd.SetOut(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return cmd.ExecuteContext(ctx)
}

func TestServeTakesFlagsFromTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string // in the error
		not  string
	}{
		{name: "rejected mode", env: map[string]string{"AUTHZ_MODE": "bogus"},
			want: []string{`--mode "bogus"`, "(set by $AUTHZ_MODE)"}},
		{name: "unparsable duration", env: map[string]string{"AUTHZ_DAEMON_TIMEOUT": "soon"},
			want: []string{`$AUTHZ_DAEMON_TIMEOUT="soon": invalid value for --daemon-timeout`}},
		{name: "rejected log level", env: map[string]string{"AUTHZ_LOG_LEVEL": "loud"},
			want: []string{`--log-level "loud"`, "(set by $AUTHZ_LOG_LEVEL)"}},
		{name: "repeatable", env: map[string]string{"AUTHZ_MASK": "/container/labels/a,/container/labels/b"},
			want: []string{"--mask applies to the decision log", "(set by $AUTHZ_MASK)"}},
		// The command line's --mode wins over the variable: the error is
		// the next one, about the exceptions file.
		{name: "command line wins", env: map[string]string{"AUTHZ_MODE": "bogus", "AUTHZ_EXCEPTIONS": "/nonexistent/exceptions.yaml"},
			args: []string{"--mode", "warn"},
			want: []string{"/nonexistent/exceptions.yaml", "(set by $AUTHZ_EXCEPTIONS)"}, not: "bogus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			err := runServeCmd(t, tc.args...)
			if err == nil || exitCode(err) != 2 {
				t.Fatalf("err = %v (exit %d), want a usage error", err, exitCode(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.not != "" && strings.Contains(err.Error(), tc.not) {
				t.Errorf("error %q mentions %q", err, tc.not)
			}
		})
	}
}

func TestServeHelpNamesTheVariables(t *testing.T) {
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetArgs([]string{"serve", "--help"})
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(env AUTHZ_MODE)", "(env AUTHZ_PLUGIN_NAME)", "docker plugin set hardened-authz AUTHZ_MODE=warn", "READY=1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "AUTHZ_HELP") {
		t.Error("serve --help offers AUTHZ_HELP")
	}
}

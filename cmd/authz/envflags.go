package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable of every `authz serve` flag:
// AUTHZ_MODE for --mode, AUTHZ_LOG_LEVEL for --log-level. A managed plugin
// takes its settings only as environment (`docker plugin set NAME
// AUTHZ_MODE=warn`), and a systemd unit most easily from an
// EnvironmentFile.
const envPrefix = "AUTHZ_"

// envHelp is appended to the help of a command whose flags bindEnv binds.
const envHelp = `

Every flag can also be given as an environment variable: AUTHZ_ and the
flag's name in capitals with dashes as underscores (AUTHZ_MODE=warn for
--mode warn, AUTHZ_LOG_LEVEL=debug, AUTHZ_DECISION_LOG=/var/log/x.log). A
flag on the command line wins over its variable; an empty variable counts
as unset; a repeatable flag (--policy, --mask) takes a comma-separated
list. Managed plugins are configured this way:
  docker plugin set hardened-authz AUTHZ_MODE=warn`

// envName is the environment variable of the flag named flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// bindEnv lets every flag of cmd be given by its environment variable
// (envName) when the command line does not give it. It must be called
// once cmd's flags are defined (for their help; flags added later are
// still read from the environment). A value the flag refuses, and a value
// the command then rejects, are usage errors that name the variable.
func bindEnv(cmd *cobra.Command) {
	cmd.Long += envHelp
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if envBindable(f) {
			f.Usage += " (env " + envName(f.Name) + ")"
		}
	})
	fromEnv := map[string]envSource{} // by flag name, for errors
	preRun := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if err := applyEnv(c.Flags(), os.LookupEnv, fromEnv); err != nil {
			return err
		}
		if preRun != nil {
			return preRun(c, args)
		}
		return nil
	}
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return blameEnv(run(c, args), fromEnv)
	}
}

// envBindable reports whether f may come from the environment: not the
// help flag and no hidden (developer) flag.
func envBindable(f *pflag.Flag) bool {
	return f.Name != "help" && !f.Hidden
}

// applyEnv sets each flag of fs that the command line left unchanged from
// its non-empty variable, and records it in fromEnv.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool), fromEnv map[string]envSource) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || !envBindable(f) {
			return
		}
		name := envName(f.Name)
		val, ok := lookup(name)
		if !ok || val == "" {
			return
		}
		vals := []string{val}
		if _, repeatable := f.Value.(pflag.SliceValue); repeatable {
			vals = strings.Split(val, ",")
		}
		for _, v := range vals {
			// fs.Set marks the flag changed, as the command line would.
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("$%s=%q: invalid value for --%s: %v", name, val, f.Name, err))
				return
			}
		}
		fromEnv[f.Name] = envSource{name, val}
	})
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return nil
}

// envSource is the variable a flag's value came from.
type envSource struct{ name, value string }

// blameEnv adds to a usage error about a flag that came from the
// environment which variable gave it: the operator must fix the variable
// (docker plugin set, the unit's EnvironmentFile), not a command line.
// The error names the flag, or the value (a file that does not load).
func blameEnv(err error, fromEnv map[string]envSource) error {
	var u usageError
	if err == nil || len(fromEnv) == 0 || !errors.As(err, &u) {
		return err
	}
	msg := err.Error()
	var named []string
	for flag, env := range fromEnv {
		// A short value ("1", "on") would match too much.
		if mentionsFlag(msg, flag) || len(env.value) >= 4 && strings.Contains(msg, env.value) {
			named = append(named, "$"+env.name)
		}
	}
	if len(named) == 0 {
		return err
	}
	sort.Strings(named)
	return usageError{fmt.Errorf("%w (set by %s)", err, strings.Join(named, ", "))}
}

// mentionsFlag reports whether msg names --flag as a whole word.
func mentionsFlag(msg, flag string) bool {
	word := "--" + flag
	for i := strings.Index(msg, word); i >= 0; {
		end := i + len(word)
		if end == len(msg) || !isFlagChar(msg[end]) {
			return true
		}
		next := strings.Index(msg[end:], word)
		if next < 0 {
			return false
		}
		i = end + next
	}
	return false
}

func isFlagChar(c byte) bool {
	return c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

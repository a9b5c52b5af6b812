// Command composeload loads a compose project with authz check's loader
// (internal/compose) and prints it as JSON, as `docker compose config
// --format json` prints the project docker compose loads: the end-to-end
// suite runs both in the same directory, with the same environment and
// flags, and compares what they loaded (compose_config_test.go).
//
// Usage: composeload [-f FILE]... [--project-directory DIR] [-p NAME]
// [--env-file FILE]... [--profile NAME]...
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/hardened-authz/hardened-authz/internal/compose"
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var o compose.Options
	var files, envFiles, profiles list
	flag.Var(&files, "f", "compose file (repeatable)")
	flag.StringVar(&o.ProjectDir, "project-directory", "", "project directory")
	flag.StringVar(&o.ProjectName, "p", "", "project name")
	flag.Var(&envFiles, "env-file", "env file (repeatable)")
	flag.Var(&profiles, "profile", "profile (repeatable)")
	flag.Parse()
	o.Files, o.EnvFiles, o.Profiles = files, envFiles, profiles
	p, err := compose.Load(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "composeload:", err)
		os.Exit(1)
	}
	out, err := json.Marshal(p.Model)
	if err != nil {
		fmt.Fprintln(os.Stderr, "composeload:", err)
		os.Exit(1)
	}
	os.Stdout.Write(append(out, '\n'))
}

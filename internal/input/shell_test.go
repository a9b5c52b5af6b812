package input

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestShellCommands(t *testing.T) {
	tests := map[string][]string{
		"curl -f http://localhost:3000/ || exit 1":              {"curl"},
		"wget -qO- http://127.0.0.1:8080/healthz >/dev/null":    {"wget"},
		"redis-cli ping | grep PONG":                            {"redis-cli", "grep"},
		"pg_isready -U postgres && psql -c 'select 1; drop'":    {"pg_isready", "psql"},
		"PGPASSWORD=x pg_isready":                               {"pg_isready"},
		"exec /usr/bin/curl -sf localhost":                      {"/usr/bin/curl"},
		"test -f /tmp/ready":                                    {},
		"[ -f /tmp/ready ] && echo ok":                          {},
		"$CHECK --quick":                                        {},
		"curl localhost; curl localhost:81":                     {"curl"},
		"(nc -z localhost 5432)":                                {"nc"},
		"if curl -s localhost; then exit 0; else exit 1; fi":    {"curl"},
		"sleep 1 && node probe.js":                              {"sleep", "node"},
		"":                                                      {},
		"'unterminated":                                         {},
		"echo 'a | b' | md5sum":                                 {"md5sum"},
		"`which curl` localhost":                                {},
		"mysqladmin ping -h localhost -u root --password=$PASS": {"mysqladmin"},
	}
	for cmd, want := range tests {
		if got := shellCommands(cmd); !reflect.DeepEqual(got, want) {
			t.Errorf("shellCommands(%q) = %q, want %q", cmd, got, want)
		}
	}
}

func TestShellCommandsPrefix(t *testing.T) {
	tests := map[string][]string{
		// The last simple command may be cut: left out.
		"curl -f http://localhost/; /usr/bin/cu": {"curl"},
		"wget -q x && nc -z localhost 5":         {"wget"},
		// A quote open at the cut belongs to the cut command.
		"pg_isready; echo 'a; b":            {"pg_isready"},
		"redis-cli ping | grep PONG | md5s": {"redis-cli", "grep"},
		"curl":                              {},
		"":                                  {},
	}
	for prefix, want := range tests {
		if got := shellCommandsPrefix(prefix); !reflect.DeepEqual(got, want) {
			t.Errorf("shellCommandsPrefix(%q) = %q, want %q", prefix, got, want)
		}
	}
}

func TestShellCommandsAreCapped(t *testing.T) {
	var cmd strings.Builder
	for i := range 3 * MaxCommands {
		fmt.Fprintf(&cmd, "prog%d | ", i)
	}
	got := shellCommands(cmd.String() + "true")
	if len(got) != MaxCommands || got[0] != "prog0" || got[MaxCommands-1] != fmt.Sprintf("prog%d", MaxCommands-1) {
		t.Errorf("%d commands %q, want the first %d", len(got), got, MaxCommands)
	}
}

func FuzzShellCommands(f *testing.F) {
	for _, s := range []string{"curl -f x || exit 1", "a=b c | d; e & f", "'\"", "if x; then y; fi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		for _, progs := range [][]string{shellCommands(cmd), shellCommandsPrefix(cmd)} {
			if len(progs) > MaxCommands {
				t.Fatalf("%q gave %d commands, more than %d", cmd, len(progs), MaxCommands)
			}
			for _, p := range progs {
				if p == "" || strings.ContainsAny(p, " \t\n;&|$`") {
					t.Fatalf("shellCommands(%q) returned %q", cmd, p)
				}
			}
		}
	})
}

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
		"`which curl` localhost":                                {"which"},
		"mysqladmin ping -h localhost -u root --password=$PASS": {"mysqladmin"},
	}
	for cmd, want := range tests {
		if got := shellCommands(cmd); !reflect.DeepEqual(got, want) {
			t.Errorf("shellCommands(%q) = %q, want %q", cmd, got, want)
		}
	}
}

// TestShellCommandsRead are the commands the hand-written reader before
// mvdan.cc/sh misread: each hid a program or listed a word that is none.
func TestShellCommandsRead(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string
	}{
		// Comments are not commands; an apostrophe in one is no quote.
		{"curl -f http://localhost:3000/ # don't fail", []string{"curl"}},
		{"timeout 5 curl -f http://localhost:3000/ # don't fail", []string{"curl", "timeout"}},
		{"curl -f x || exit 1 # curl's exit status", []string{"curl"}},
		// Wrappers are looked through: their command, then them.
		{"timeout 5 curl -f http://localhost:3000/", []string{"curl", "timeout"}},
		{"timeout -s KILL -k 2 5s curl -f x", []string{"curl", "timeout"}},
		{"timeout --preserve-status 5 wget -q x", []string{"wget", "timeout"}},
		{"timeout -t 5 curl x", []string{"curl", "timeout"}},
		{"/usr/bin/timeout 5 /usr/bin/curl x", []string{"/usr/bin/curl", "/usr/bin/timeout"}},
		{"env curl -f x", []string{"curl", "env"}},
		{"env -i PATH=/usr/bin FOO=1 curl -f x", []string{"curl", "env"}},
		{"env -u HOME -- curl x", []string{"curl", "env"}},
		{"env -S 'curl x'", []string{"env"}},
		{"nice curl -f x", []string{"curl", "nice"}},
		{"nice -n 10 curl -f x", []string{"curl", "nice"}},
		{"nohup curl -f x", []string{"curl", "nohup"}},
		{"exec timeout 5 env A=1 nice -n 5 curl x", []string{"curl", "timeout", "env", "nice"}},
		{"time curl x", []string{"curl"}},
		{"exec -a probe curl x", []string{"curl"}},
		{"command curl -f x", []string{"curl"}},
		{"command -p curl -f x", []string{"curl"}},
		{"command -v wget && wget -q -O- http://localhost:3000/", []string{"wget"}},
		{"command -V curl || wget -q x", []string{"wget"}},
		{"command -pv curl", []string{}},
		{"timeout 5 $PROBE", []string{"timeout"}},
		// busybox APPLET: busybox only (the index cannot tell its applets).
		{"busybox curl -f x", []string{"busybox"}},
		{"busybox wget -q x && curl y", []string{"busybox", "curl"}},
		// Shells' -c STRING is read too, to a bounded depth.
		{"sh -c 'curl -f x'", []string{"curl", "sh"}},
		{`bash -ec "curl -f x && wget -q y"`, []string{"curl", "wget", "bash"}},
		{"/bin/sh -e -c 'timeout 5 curl x' probe", []string{"curl", "timeout", "/bin/sh"}},
		{"dash -o errexit -c 'nc -z localhost 5432'", []string{"nc", "dash"}},
		{`sh -c "ash -c 'bash -c curl'"`, []string{"curl", "bash", "ash", "sh"}},
		{`sh -c "ash -c 'bash -c \"dash -c curl\"'"`, []string{"dash", "bash", "ash", "sh"}},
		{"sh -c \"$CMD\"", []string{"sh"}},
		{"sh probe.sh", []string{"sh"}},
		{"sh -c 'curl x", []string{}},
		// Braces, subshells, redirections, control structures.
		{"{ curl -f x; }", []string{"curl"}},
		{"{ curl -f x || exit 1; } >/dev/null 2>&1", []string{"curl"}},
		{">/dev/null curl -f x", []string{"curl"}},
		{"2>&1 curl -f x | grep -q ok", []string{"curl", "grep"}},
		{"</dev/null wget -q x", []string{"wget"}},
		{"case $MODE in http) curl x;; tcp) nc -z y 1;; esac", []string{"curl", "nc"}},
		{"for p in 1 2; do curl -f x:$p; done", []string{"curl"}},
		{"while ! nc -z localhost 5432; do sleep 1; done", []string{"nc", "sleep"}},
		{"! curl -f x", []string{"curl"}},
		{"f() { curl -f x; }; f", []string{"curl"}},
		{"curl() { :; }; curl", []string{}},
		{"test \"$(curl -s x)\" = ok", []string{"curl"}},
		{"X=$(cat /run/port) wget -q x", []string{"wget", "cat"}},
		// Escapes and quotes are removed.
		{"\\curl -f x", []string{"curl"}},
		{`"cu"rl -f x`, []string{"curl"}},
		{`'/usr/bin/curl' -f x`, []string{"/usr/bin/curl"}},
		{"cu\\\nrl -f x", []string{"curl"}},
		// Words only known when the command runs: left out.
		{"c*rl -f x", []string{}},
		{"~/bin/probe", []string{}},
		{`"$CURL" -f x`, []string{}},
		{"${CURL:-curl} -f x", []string{}},
		{"$(which curl) -f x", []string{"which"}},
		{"'my probe' x", []string{}},
		// A command the shell cannot parse: unknown, nothing listed.
		{"if curl -f x; then", []string{}},
		{"curl -f x )", []string{}},
		{"curl x; fi", []string{}},
		// Only bash parses it: read as bash.
		{"[[ -f /tmp/ready ]] && curl -f x", []string{"curl"}},
		{"curl -f x 2> >(logger)", []string{"curl", "logger"}},
	}
	for _, tt := range tests {
		if got := shellCommands(tt.cmd); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("shellCommands(%q) = %q, want %q", tt.cmd, got, tt.want)
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
		"curl x ":                           {},
		// Commands parsed, wrappers looked through, as in a whole one.
		"{ curl -f x; }; timeout 5 cu":         {"curl"},
		"timeout 5 curl -f x && env wget -q y": {"curl", "timeout"},
		"curl -f x # don't; wget":              {"curl"},
		"nc -z a 1; sh -c 'curl x; wget":       {"nc"},
		"if curl x; then wget y; else nc":      {},
		"echo $(curl -s x) | tee /tmp/o":       {"curl"},
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

// Reading a command is bounded by MaxParsedBytes: the worst inputs of
// that size, whole (parsed to the end) and as a prefix.
func BenchmarkShellCommands(b *testing.B) {
	var many strings.Builder
	for i := 0; many.Len() < MaxParsedBytes-16; i++ {
		fmt.Fprintf(&many, "p%d; ", i)
	}
	nested := strings.Repeat("sh -c '", 1) + strings.Repeat("{ (", maxOpenings/2) + "curl x" + strings.Repeat(") }", maxOpenings/2) + "'"
	for _, bc := range []struct{ name, cmd string }{
		{"distinct-commands", many.String()},
		{"nested", nested},
		{"one-word", strings.Repeat("x", MaxParsedBytes)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				shellCommands(bc.cmd)
				shellCommandsPrefix(bc.cmd)
			}
		})
	}
}

// A command that opens more constructs than maxOpenings is unknown,
// however they nest or close.
func TestShellCommandsNesting(t *testing.T) {
	ok := strings.Repeat("(", maxOpenings) + "curl x" + strings.Repeat(")", maxOpenings)
	if got := shellCommands(ok); !reflect.DeepEqual(got, []string{"curl"}) {
		t.Errorf("%d levels: %q, want [curl]", maxOpenings, got)
	}
	for _, cmd := range []string{
		strings.Repeat("(", maxOpenings+1) + "curl x" + strings.Repeat(")", maxOpenings+1),
		strings.Repeat("case x in a) ", maxOpenings+1) + "curl x" + strings.Repeat(";; esac ", maxOpenings+1),
		strings.Repeat("if ", maxOpenings+1) + "curl x",
	} {
		if got := shellCommands(cmd); len(got) != 0 {
			t.Errorf("%.40q…: %q, want none", cmd, got)
		}
		if got := shellCommandsPrefix(cmd); len(got) != 0 {
			t.Errorf("prefix %.40q…: %q, want none", cmd, got)
		}
	}
}

// Package enforce decides what the policies' findings do to a request or
// a compose check: the operator's enforcement mode (enforce, warn,
// dryrun), the per-rule modes of the policy set (data.enforcement.rules)
// and the operator's exceptions file. The policies say what is wrong;
// this package says what happens about it, so that both `authz serve`
// and `authz check` treat the same findings the same way.
package enforce

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Mode is the global enforcement mode.
type Mode uint8

// Global modes. The zero value enforces, so an unset mode never weakens
// the plugin.
const (
	// Enforce denies what the policies deny.
	Enforce Mode = iota
	// Warn allows every request the policies deny and records it as a
	// would-deny, logged at warn level: for rolling the plugin out.
	Warn
	// DryRun evaluates and records like Warn, but logs its would-denies
	// at debug level only: for measuring a policy change on live traffic
	// without anyone noticing.
	DryRun
)

// Modes lists the --mode values, default first.
var Modes = []string{"enforce", "warn", "dryrun"}

// String is the mode's --mode value.
func (m Mode) String() string {
	if int(m) < len(Modes) {
		return Modes[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode reads a --mode value.
func ParseMode(s string) (Mode, error) {
	for i, name := range Modes {
		if s == name {
			return Mode(i), nil
		}
	}
	return Enforce, fmt.Errorf("--mode %q: want one of %s", s, strings.Join(Modes, ", "))
}

// hasGlob reports whether pattern uses glob syntax.
func hasGlob(pattern string) bool { return strings.ContainsAny(pattern, "*?") }

// globMatch reports whether name matches pattern, where '*' matches any
// run of characters, '/' and ':' included (image repositories and
// container names are matched whole, and "dhi.io/*" should cover every
// hardened repository), and '?' matches one character. Everything else
// matches itself. There is no syntax to get wrong, so a pattern never
// fails to load.
func globMatch(pattern, name string) bool {
	// Iterative matching with one backtrack point: linear in practice,
	// O(len(pattern)*len(name)) at worst, never recursive.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			if pattern[p] == '?' {
				// One character, not one byte.
				_, size := utf8.DecodeRuneInString(name[n:])
				n += size
			} else {
				n++
			}
			p++
		case star >= 0:
			p = star + 1
			_, size := utf8.DecodeRuneInString(name[mark:])
			mark += size
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

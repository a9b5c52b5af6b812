package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
)

// RuleModesQuery is where operators set per-rule enforcement modes: an
// object of rule ID to mode, usually from a data.json of a --policy
// directory ({"enforcement": {"rules": {"HA008": "off"}}}).
const RuleModesQuery = "data.enforcement.rules"

// Per-rule enforcement modes, the values of data.enforcement.rules.
const (
	// RuleEnforce keeps the rule as written: a deny denies.
	RuleEnforce = "enforce"
	// RuleWarn turns the rule's denies into warnings: the request is
	// allowed, and the decision says the deny was demoted.
	RuleWarn = "warn"
	// RuleOff drops the rule's findings; decisions only count them.
	RuleOff = "off"
)

// AlwaysEnforced is the rule no mode or exception weakens: HA090 keeps
// the plugin from being disabled through the very API it guards, and a
// plugin in warn mode must still be there to switch back to enforce.
const AlwaysEnforced = "HA090"

// RuleModes maps rule IDs to RuleEnforce, RuleWarn or RuleOff. A rule
// not in the map is enforced.
type RuleModes map[string]string

// Mode is the mode of rule, RuleEnforce when none is set.
func (m RuleModes) Mode(rule string) string {
	if v, ok := m[rule]; ok {
		return v
	}
	return RuleEnforce
}

// PluginRule reports whether id is one of the rules the plugin keeps for
// itself, HA090 to HA099: self-protection and the denials made in Go
// (a bad body, missing facts, overload, an unroutable target, a failed
// evaluation). No per-rule setting may weaken them: HA090 always
// enforces, and the others follow only the global mode.
func PluginRule(id string) bool {
	return len(id) == 5 && strings.HasPrefix(id, "HA09") && id[4] >= '0' && id[4] <= '9'
}

// readRuleModes evaluates data.enforcement.rules once on a compiled set,
// so that no decision ever reads it, and refuses values that would make
// a rule's weight a guess.
func readRuleModes(ctx context.Context, c *ast.Compiler, store storage.Store) (RuleModes, error) {
	if c == nil {
		return nil, nil
	}
	rs, err := rego.New(rego.Query(RuleModesQuery), rego.Compiler(c), rego.Store(store)).Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", RuleModesQuery, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil // undefined: every rule enforces
	}
	return parseRuleModes(rs[0].Expressions[0].Value)
}

// parseRuleModes validates the value of data.enforcement.rules.
func parseRuleModes(v any) (RuleModes, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be an object of rule ID to %q, %q or %q, not %T", RuleModesQuery, RuleEnforce, RuleWarn, RuleOff, v)
	}
	if len(obj) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(obj))
	for id := range obj {
		ids = append(ids, id)
	}
	sort.Strings(ids) // the same error first on every load
	modes := make(RuleModes, len(obj))
	for _, id := range ids {
		s, ok := obj[id].(string)
		switch {
		case strings.TrimSpace(id) == "":
			return nil, fmt.Errorf("%s: an empty rule ID", RuleModesQuery)
		case !ok || (s != RuleEnforce && s != RuleWarn && s != RuleOff):
			return nil, fmt.Errorf("%s[%q] = %v: want %q, %q or %q", RuleModesQuery, id, obj[id], RuleEnforce, RuleWarn, RuleOff)
		case PluginRule(id) && s != RuleEnforce:
			return nil, fmt.Errorf("%s[%q] = %q: HA090 to HA099 are the plugin's own rules; HA090 always enforces and the others follow only --mode", RuleModesQuery, id, s)
		}
		modes[id] = s
	}
	return modes, nil
}

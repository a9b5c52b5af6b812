package policy

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestRuleModesAreReadOncePerCompiledSet(t *testing.T) {
	rs := rules()
	rs["enforcement/data.json"] = &fstest.MapFile{Data: []byte(`{"rules": {"T001": "warn", "T002": "off"}}`)}
	e, err := New(context.Background(), Sources{Library: library(), Rules: rs})
	if err != nil {
		t.Fatal(err)
	}
	if m := e.RuleModes(); len(m) != 2 || m.Mode("T001") != RuleWarn || m.Mode("T002") != RuleOff || m.Mode("T003") != RuleEnforce {
		t.Errorf("rule modes %v", m)
	}
	res, err := e.Evaluate(context.Background(), ast.MustParseTerm(`{"image": "nope"}`).Value)
	if err != nil || res.RuleModes.Mode("T001") != RuleWarn {
		t.Errorf("a result carries its set's modes: %v %v", res.RuleModes, err)
	}

	// Rego may define them too: they are read from the compiled set.
	rs = rules()
	rs["enforcement/modes.rego"] = &fstest.MapFile{Data: []byte("package enforcement\n\nrules[id] := \"off\" if some id in [\"T009\"]\n")}
	e, err = New(context.Background(), Sources{Library: library(), Rules: rs})
	if err != nil || e.RuleModes().Mode("T009") != RuleOff {
		t.Fatalf("from Rego: %v %v", e, err)
	}

	// None set: nil, so the request path has nothing to look up.
	e, err = New(context.Background(), Sources{Library: library(), Rules: rules()})
	if err != nil || e.RuleModes() != nil {
		t.Errorf("no modes: %v %v", e.RuleModes(), err)
	}
}

func TestBadRuleModesAreRefusedAtLoad(t *testing.T) {
	for _, tt := range []struct{ data, want string }{
		{`{"rules": {"T001": "silent"}}`, `data.enforcement.rules["T001"] = silent: want "enforce", "warn" or "off"`},
		{`{"rules": {"T001": true}}`, `data.enforcement.rules["T001"] = true`},
		{`{"rules": ["T001"]}`, `data.enforcement.rules must be an object`},
		{`{"rules": {"HA090": "off"}}`, `HA090 to HA099 are the plugin's own rules`},
		{`{"rules": {"HA092": "warn"}}`, `HA090 to HA099 are the plugin's own rules`},
	} {
		rs := rules()
		rs["enforcement/data.json"] = &fstest.MapFile{Data: []byte(tt.data)}
		_, err := New(context.Background(), Sources{Library: library(), Rules: rs})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.data, err, tt.want)
		}
	}
	rs := rules()
	rs["enforcement/data.json"] = &fstest.MapFile{Data: []byte(`{"rules": {"HA090": "enforce"}}`)}
	if _, err := New(context.Background(), Sources{Library: library(), Rules: rs}); err != nil {
		t.Errorf("HA090 enforce is allowed (it changes nothing): %v", err)
	}
}

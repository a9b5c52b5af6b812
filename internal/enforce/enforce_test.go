package enforce

import (
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/policy"
)

func v(rule string) policy.Violation { return policy.Violation{Rule: rule, Message: rule + ": x"} }

func rules(vs []policy.Violation) []string {
	ids := []string{}
	for _, v := range vs {
		ids = append(ids, v.Rule)
	}
	return ids
}

func same(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustParse(t *testing.T, file string) *Exceptions {
	t.Helper()
	x, _, err := ParseExceptions("x", []byte(file), now)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

var api = Subject{Image: "dhi.io/node", ComposeProject: "shop", ComposeService: "api", Container: "shop-api-1"}

func TestApplyWithoutEnforcementReturnsTheResultAsIs(t *testing.T) {
	res := policy.Result{Deny: []policy.Violation{v("HA002")}, Warn: []policy.Violation{v("HA008")}}
	for _, p := range []*Policy{nil, {}, {Exceptions: mustParse(t, "exceptions:\n- {rules: [HA001], image: a, reason: r}\n")}} {
		o := p.Apply(res, api, now)
		if &o.Deny[0] != &res.Deny[0] || &o.Warn[0] != &res.Warn[0] || o.WouldDeny || o.Allowed() {
			t.Errorf("%+v: findings not passed through as they are: %+v", p, o)
		}
	}
	allocs := testing.AllocsPerRun(100, func() { (&Policy{}).Apply(res, api, now) })
	if allocs != 0 {
		t.Errorf("enforce mode without exceptions allocates %v times", allocs)
	}
}

func TestGlobalModes(t *testing.T) {
	res := policy.Result{Deny: []policy.Violation{v("HA002"), v(policy.AlwaysEnforced)}, Warn: []policy.Violation{v("HA008")}}
	for _, m := range []Mode{Warn, DryRun} {
		o := (&Policy{Mode: m}).Apply(res, api, now)
		if !o.WouldDeny || !same(rules(o.Demoted), []string{"HA002"}) || !same(rules(o.Warn), []string{"HA008"}) {
			t.Errorf("%s: %+v", m, o)
		}
		if !same(rules(o.Deny), []string{"HA090"}) {
			t.Errorf("%s: HA090 must always deny: %+v", m, o.Deny)
		}
	}
	o := (&Policy{Mode: Warn}).Apply(policy.Result{Warn: []policy.Violation{v("HA008")}}, api, now)
	if o.WouldDeny || !o.Allowed() {
		t.Errorf("a warning alone is no would-deny: %+v", o)
	}
}

func TestRuleModes(t *testing.T) {
	res := policy.Result{
		Deny:      []policy.Violation{v("HA002"), v("HA001"), v("HA009")},
		Warn:      []policy.Violation{v("HA008"), v("HA007")},
		RuleModes: policy.RuleModes{"HA002": policy.RuleOff, "HA001": policy.RuleWarn, "HA008": policy.RuleOff, "HA009": policy.RuleEnforce},
	}
	o := (&Policy{}).Apply(res, api, now)
	if !same(rules(o.Deny), []string{"HA009"}) || !same(rules(o.Demoted), []string{"HA001"}) || !same(rules(o.Warn), []string{"HA007"}) || o.Off != 2 || o.WouldDeny {
		t.Errorf("%+v", o)
	}
}

func TestExceptionsMatchEveryGivenSelector(t *testing.T) {
	x := mustParse(t, `exceptions:
  - rules: [HA002]
    image: dhi.io/node
    compose_project: shop
    compose_service: api
    reason: tracked in SHOP-142
    owner: team-shop
    expires: 2027-03-01
  - rules: [HA002]
    compose_service: web
    reason: gone
    expires: 2027-02-01
  - rules: [HA008]
    container: "*-health-*"
    reason: sized by the platform
`)
	p := &Policy{Exceptions: x}
	res := policy.Result{Deny: []policy.Violation{v("HA002")}, Warn: []policy.Violation{v("HA008")}}

	o := p.Apply(res, api, now)
	if !o.Allowed() || len(o.Skipped) != 1 || o.Skipped[0].Reason != "tracked in SHOP-142" || o.Skipped[0].Owner != "team-shop" || o.Skipped[0].Exception != 0 || o.Skipped[0].Expires != "2027-03-01" {
		t.Errorf("api: %+v", o)
	}
	if !same(rules(o.Warn), []string{"HA008"}) {
		t.Errorf("api: HA008 was not excepted for it: %+v", o.Warn)
	}

	worker := api
	worker.ComposeService = "worker"
	if o := p.Apply(res, worker, now); o.Allowed() || len(o.Skipped) != 0 {
		t.Errorf("another service of the same project: %+v", o)
	}
	other := api
	other.Image = "docker.io/library/node"
	if o := p.Apply(res, other, now); o.Allowed() {
		t.Errorf("another image: %+v", o)
	}

	web := Subject{ComposeProject: "shop", ComposeService: "web", Container: "shop-web-health-1"}
	o = p.Apply(res, web, now)
	if o.Allowed() || len(o.Expired) != 1 || o.Expired[0].Exception != 1 || o.Expired[0].Rule != "HA002" {
		t.Errorf("an expired exception must not match, and must be noted: %+v", o)
	}
	if len(o.Skipped) != 1 || !o.Skipped[0].Warning || o.Skipped[0].Violation.Rule != "HA008" {
		t.Errorf("a warning is skipped by a container glob: %+v", o.Skipped)
	}

	// The first exception's day is over: it stops matching.
	if o := p.Apply(res, api, now.AddDate(0, 0, 1)); o.Allowed() || len(o.Expired) != 1 {
		t.Errorf("after expiry: %+v", o)
	}
}

func TestOffWinsOverExceptionsAndExceptionsOverWarn(t *testing.T) {
	x := mustParse(t, "exceptions:\n- {rules: [HA002, HA001], compose_service: api, reason: r}\n")
	res := policy.Result{Deny: []policy.Violation{v("HA002"), v("HA001")}, RuleModes: policy.RuleModes{"HA002": policy.RuleOff, "HA001": policy.RuleWarn}}
	o := (&Policy{Mode: Warn, Exceptions: x}).Apply(res, api, now)
	if o.Off != 1 || len(o.Skipped) != 1 || o.Skipped[0].Violation.Rule != "HA001" || len(o.Demoted) != 0 || o.WouldDeny {
		t.Errorf("%+v", o)
	}
}

func TestDigestMatchesTheRepoDigestOrTheImageID(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	x := mustParse(t, "exceptions:\n- {rules: [HA002], digest: \""+d+"\", reason: r}\n")
	p := &Policy{Exceptions: x}
	res := policy.Result{Deny: []policy.Violation{v("HA002")}}
	for _, s := range []Subject{{Digest: d}, {ImageID: d}} {
		if o := p.Apply(res, s, now); !o.Allowed() {
			t.Errorf("%+v not matched", s)
		}
	}
	if o := p.Apply(res, Subject{ImageID: "sha256:ff"}, now); o.Allowed() {
		t.Error("another image matched")
	}
}

func TestSubjectOf(t *testing.T) {
	doc := input.Document{
		Container: &input.Container{Name: "/shop-api-1", Compose: &input.Compose{Project: "shop", Service: "api"}},
		Image:     &input.Image{Repository: "dhi.io/node", Digest: "sha256:aa", ID: "sha256:bb"},
	}
	want := Subject{Image: "dhi.io/node", Digest: "sha256:aa", ImageID: "sha256:bb", ComposeProject: "shop", ComposeService: "api", Container: "shop-api-1"}
	if got := SubjectOf(doc); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := SubjectOf(input.Document{}); got != (Subject{}) {
		t.Errorf("empty document: %+v", got)
	}
}

func TestParseMode(t *testing.T) {
	for i, s := range Modes {
		if m, err := ParseMode(s); err != nil || m != Mode(i) || m.String() != s {
			t.Errorf("%s: %v %v", s, m, err)
		}
	}
	if _, err := ParseMode("audit"); err == nil {
		t.Error("unknown mode accepted")
	}
}

func BenchmarkApply(b *testing.B) {
	res := policy.Result{Deny: []policy.Violation{v("HA002")}, Warn: []policy.Violation{v("HA008")}}
	b.Run("enforce", func(b *testing.B) {
		p := &Policy{}
		b.ReportAllocs()
		for b.Loop() {
			p.Apply(res, api, now)
		}
	})
	b.Run("50-exceptions", func(b *testing.B) {
		p := &Policy{Exceptions: fiftyExceptions(b)}
		b.ReportAllocs()
		for b.Loop() {
			p.Apply(res, api, now)
		}
	})
}

// fiftyExceptions is a file of 50 exceptions, none of which matches api,
// a few of which list its rule.
func fiftyExceptions(b testing.TB) *Exceptions {
	file := "exceptions:\n"
	for i := range 50 {
		rule := "X" + string(rune('A'+i%26))
		if i%10 == 0 {
			rule = "HA002"
		}
		file += "  - {rules: [" + rule + "], compose_project: p" + string(rune('a'+i%26)) + ", container: \"*-" + string(rune('a'+i%26)) + "-*\", reason: r}\n"
	}
	x, _, err := ParseExceptions("x", []byte(file), now)
	if err != nil {
		b.Fatal(err)
	}
	return x
}

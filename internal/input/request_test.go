package input

import (
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/internal/pluginref"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

func TestPluginDocument(t *testing.T) {
	d := ForRequest(route.Parse("POST", "/v1.41/plugins/hardened-authz:latest/disable"), Caller{}, "hardened-authz")
	if d.Action != "plugin.disable" || d.Plugin == nil || d.Plugin.Name != "hardened-authz:latest" || d.Container != nil {
		t.Errorf("document = %+v", d)
	}
}

func TestWithPluginTarget(t *testing.T) {
	id := strings.Repeat("3f", 32)
	d := ForRequest(route.Parse("DELETE", "http://x/v1.41/plugins/3f2a"), Caller{}, "hardened-authz")
	found := d.WithPluginTarget(pluginref.Target{Ref: "3f2a", Lookup: pluginref.Found, ID: id, Name: "acme/hardened-authz:latest"})
	if want := (Plugin{Name: "3f2a", Lookup: "found", ID: id, ResolvedName: "acme/hardened-authz:latest"}); *found.Plugin != want {
		t.Errorf("found: %+v", *found.Plugin)
	}
	if d.Plugin.Lookup != "" {
		t.Errorf("WithPluginTarget changed the document it was called on: %+v", *d.Plugin)
	}
	failed := d.WithPluginTarget(pluginref.Target{Ref: "3f2a", Lookup: pluginref.Failed, Err: "plugin inspect did not answer within 1s (--daemon-timeout)"})
	if want := (Plugin{Name: "3f2a", Lookup: "failed", LookupError: "plugin inspect did not answer within 1s (--daemon-timeout)"}); *failed.Plugin != want {
		t.Errorf("failed: %+v", *failed.Plugin)
	}
	other := ForRequest(route.Parse("GET", "/v1.41/containers/json"), Caller{}, "hardened-authz")
	if got := other.WithPluginTarget(pluginref.Target{Lookup: pluginref.Found, ID: id}); got.Plugin != nil {
		t.Errorf("a non-plugin document got a plugin: %+v", *got.Plugin)
	}

	// The Rego value says what the JSON encoding says, set fields or not.
	for _, p := range []*Plugin{d.Plugin, found.Plugin, failed.Plugin} {
		want, err := ast.InterfaceToValue(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.value(); got.Compare(want) != 0 {
			t.Errorf("value() = %v, JSON encoding %v", got, want)
		}
	}
}

package input

import (
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/route"
)

func TestPluginDocument(t *testing.T) {
	d := ForRequest(route.Parse("POST", "/v1.41/plugins/hardened-authz:latest/disable"), Caller{}, "hardened-authz")
	if d.Action != "plugin.disable" || d.Plugin == nil || d.Plugin.Name != "hardened-authz:latest" || d.Container != nil {
		t.Errorf("document = %+v", d)
	}
}

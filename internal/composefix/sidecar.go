package composefix

import (
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/yamlnode"
)

// What add_sidecar does with the app's own healthcheck.
const (
	hcRemove  = "remove"
	hcDisable = "disable"
)

// addSidecar plans an add_sidecar action: the edits, the change they must
// make to the decoded document, or why it cannot be done here.
//
// The action is all or nothing: when the sidecar cannot be added, the
// app's healthcheck is left alone too, as removing it alone would leave the
// app with no healthcheck and its dependents waiting forever.
func (f *file) addSidecar(a policy.Action) ([]edit, func(any) error, string) {
	mode := a.AppHealthcheck
	if mode == "" {
		mode = hcRemove
	}
	switch {
	case mode != hcRemove && mode != hcDisable:
		return nil, nil, fmt.Sprintf("unknown app_healthcheck %q (want %q or %q)", a.AppHealthcheck, hcRemove, hcDisable)
	case a.Service == "" || a.Name == "" || a.Image == "" || len(a.Test) == 0:
		return nil, nil, "the action is incomplete: it needs a service, a sidecar name, an image and a test"
	case a.Name == a.Service:
		return nil, nil, fmt.Sprintf("the sidecar cannot be named like its service %q", a.Service)
	}
	b, reason := f.serviceBlock(a.Service)
	if reason != "" {
		return nil, nil, reason
	}
	svcs, sv := b.svcs, b.val
	svcLine, svcInd, svcEnd, childInd := b.line, b.indent, b.end, b.childIndent
	// The sidecar is written with the file's own indentation: its key like
	// the app's, its settings like the app's settings.
	unit := childInd - svcInd

	sidecarDone := false
	if nk, nv := yamlnode.Get(svcs, a.Name); nk != nil {
		nm := lookup(nv, "network_mode")
		if nm == nil || nm.Kind != yaml.ScalarNode || nm.Value != "service:"+a.Service {
			return nil, nil, fmt.Sprintf("a service named %q already exists and does not share the network of %q; choose another name", a.Name, a.Service)
		}
		sidecarDone = true
	} else if lookup(svcs, a.Name) != nil {
		return nil, nil, fmt.Sprintf("a service named %q already exists (from a YAML merge key); choose another name", a.Name)
	}

	var edits []edit
	hcChange := ""
	hk, hv := yamlnode.Get(sv, "healthcheck")
	switch {
	case hk == nil && lookup(sv, "healthcheck") != nil:
		return nil, nil, fmt.Sprintf("the healthcheck of %q comes from a YAML anchor through a merge key (<<), which cannot be edited here; edit the file by hand", a.Service)
	case hk == nil && mode == hcRemove:
		if sidecarDone {
			return nil, nil, ReasonApplied
		}
		return nil, nil, fmt.Sprintf("the healthcheck of %q is not set in this file", a.Service)
	case hk == nil:
		// The healthcheck comes from the image, so the file has nothing to
		// replace: the service gets a healthcheck that turns it off.
		at := f.starts[svcEnd+1]
		edits = append(edits, edit{start: at, end: at, text: f.disableText(childInd, unit)})
		hcChange = hcDisable
	default:
		hLine, hInd, ok := f.lineStart(hk)
		if !ok {
			return nil, nil, fmt.Sprintf("the healthcheck of %q does not start its line; edit the file by hand", a.Service)
		}
		if f.shared(hv) || f.aliased[hk] {
			return nil, nil, fmt.Sprintf("the healthcheck of %q is a YAML anchor that other parts of the file use; edit the file by hand", a.Service)
		}
		hEnd := f.blockEnd(hLine, hInd, hv)
		switch {
		case mode == hcDisable && disabled(hv):
		case mode == hcDisable:
			edits = append(edits, f.lineRange(hLine, hEnd, f.disableText(hInd, unit)))
			hcChange = hcDisable
		case yamlnode.InMerge(sv, "healthcheck"):
			return nil, nil, fmt.Sprintf("removing the healthcheck of %q would bring back the one it merges from a YAML anchor (<<); edit the file by hand", a.Service)
		case len(sv.Content) == 2:
			return nil, nil, fmt.Sprintf("removing the healthcheck would leave service %q empty; edit the file by hand", a.Service)
		default:
			first := hLine
			// The app's last setting goes: take the blank lines before it
			// too, or they would pile up before the sidecar's own.
			if hEnd == svcEnd {
				for first-1 > svcLine && blank(f.text(first-1)) {
					first--
				}
			}
			edits = append(edits, f.lineRange(first, hEnd, ""))
			hcChange = hcRemove
		}
	}
	if !sidecarDone {
		at := f.starts[svcEnd+1]
		edits = append(edits, edit{start: at, end: at, text: f.eol + f.sidecarText(a, svcInd, unit)})
	}
	if len(edits) == 0 {
		return nil, nil, ReasonApplied
	}
	expect := func(root any) error {
		services, svc, err := serviceMap(root, a.Service)
		if err != nil {
			return err
		}
		switch hcChange {
		case hcRemove:
			delete(svc, "healthcheck")
		case hcDisable:
			svc["healthcheck"] = map[string]any{"disable": true}
		}
		if !sidecarDone {
			services[a.Name] = sidecarValue(a)
		}
		return nil
	}
	return edits, expect, ""
}

// disabled reports whether a healthcheck is already `disable: true`.
func disabled(hc *yaml.Node) bool {
	d := lookup(hc, "disable")
	return d != nil && d.Kind == yaml.ScalarNode && d.Tag == "!!bool" && strings.EqualFold(d.Value, "true")
}

func (f *file) disableText(indent, unit int) string {
	pad := strings.Repeat(" ", indent)
	return pad + "healthcheck:" + f.eol + pad + strings.Repeat(" ", unit) + "disable: true" + f.eol
}

// sidecarText writes the sidecar service, each line ended.
func (f *file) sidecarText(a policy.Action, indent, unit int) string {
	var b strings.Builder
	line := func(level int, s string) {
		b.WriteString(strings.Repeat(" ", indent+level*unit))
		b.WriteString(s)
		b.WriteString(f.eol)
	}
	line(0, scalar(a.Name)+":")
	line(1, "image: "+scalar(a.Image))
	line(1, "network_mode: "+quote("service:"+a.Service))
	line(1, `entrypoint: ["sleep", "infinity"]`)
	line(1, "healthcheck:")
	test := make([]string, len(a.Test))
	for i, t := range a.Test {
		test[i] = quote(t)
	}
	line(2, "test: ["+strings.Join(test, ", ")+"]")
	if a.Interval != "" {
		line(2, "interval: "+scalar(a.Interval))
	}
	if a.Timeout != "" {
		line(2, "timeout: "+scalar(a.Timeout))
	}
	if a.Retries != 0 {
		line(2, "retries: "+strconv.Itoa(a.Retries))
	}
	if a.StartPeriod != "" {
		line(2, "start_period: "+scalar(a.StartPeriod))
	}
	if a.MemLimit != "" {
		line(1, "mem_limit: "+scalar(a.MemLimit))
	}
	return b.String()
}

// sidecarValue is the decoded form of sidecarText.
func sidecarValue(a policy.Action) map[string]any {
	test := make([]any, len(a.Test))
	for i, t := range a.Test {
		test[i] = t
	}
	hc := map[string]any{"test": test}
	if a.Interval != "" {
		hc["interval"] = a.Interval
	}
	if a.Timeout != "" {
		hc["timeout"] = a.Timeout
	}
	if a.Retries != 0 {
		hc["retries"] = a.Retries
	}
	if a.StartPeriod != "" {
		hc["start_period"] = a.StartPeriod
	}
	s := map[string]any{
		"image":        a.Image,
		"network_mode": "service:" + a.Service,
		"entrypoint":   []any{"sleep", "infinity"},
		"healthcheck":  hc,
	}
	if a.MemLimit != "" {
		s["mem_limit"] = a.MemLimit
	}
	return s
}

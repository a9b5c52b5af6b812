// Package composefix applies the machine-applicable fixes of policy
// violations (policy.Action) to a compose file.
//
// Users keep compose files under review, with comments and a layout of their
// own, so the package edits the text in place instead of re-encoding the
// document: the YAML node tree only locates what to change, and everything
// else stays byte for byte as it was. Every edit is checked afterwards by
// decoding the old and new documents and comparing them with the change the
// action means; an edit that would change anything else (because of anchors,
// unusual formatting, ...) is not made, and the action is reported as
// skipped instead.
//
// Apply edits one file; Plan applies the fixes of a whole project's
// findings across its files, in the order that keeps the project valid.
package composefix

import (
	"bytes"
	"fmt"

	"github.com/aymanbagabas/go-udiff"

	"github.com/hardened-authz/hardened-authz/internal/policy"
)

// Skipped is an action Apply left out for this file, and why. A skipped
// action is not an error: the setting may live in another file of the
// project, or be shaped in a way only a person should edit.
type Skipped struct {
	Action policy.Action
	Reason string
}

// ReasonApplied is the reason given for an action whose result the file
// already has, so running a fix twice reports rather than duplicates.
const ReasonApplied = "already applied"

// Apply applies the actions that concern this file to src and returns the
// new content. Actions it cannot apply to this file (service not defined
// here, key came from an anchor/alias or a flow mapping it cannot edit
// safely, sidecar name already taken by a different service, etc.) are
// returned in skipped with a reason; they are not errors. err is only for
// src that is not YAML.
//
// Actions are applied in order, each to the result of the previous ones, so
// a sidecar added by one action is seen by the next. Only the first YAML
// document of src is treated as the compose file.
func Apply(src []byte, actions []policy.Action) (out []byte, skipped []Skipped, err error) {
	if err := parse(src); err != nil {
		return nil, nil, fmt.Errorf("composefix: %w", err)
	}
	cur := src
	// A final line without a newline would make every insertion after it a
	// special case; add one for the edits and take it away at the end.
	addedEOL := len(src) > 0 && src[len(src)-1] != '\n'
	if addedEOL {
		cur = append(bytes.Clone(src), detectEOL(src)...)
	}
	for _, a := range actions {
		next, reason := applyOne(cur, a)
		if reason != "" {
			skipped = append(skipped, Skipped{Action: a, Reason: reason})
			continue
		}
		cur = next
	}
	if addedEOL {
		cur = bytes.TrimSuffix(cur, []byte(detectEOL(src)))
	}
	if bytes.Equal(cur, src) {
		return src, skipped, nil
	}
	// Each edit was checked already; this guards the end-of-file handling
	// above, so a caller never writes a file compose cannot read.
	if err := parse(cur); err != nil {
		return nil, skipped, fmt.Errorf("composefix: the edited file is not valid YAML: %w", err)
	}
	return cur, skipped, nil
}

// Diff returns a unified diff of old→new with headers "--- a/<name>"
// "+++ b/<name>" ("" when equal).
func Diff(name string, old, new []byte) string {
	if bytes.Equal(old, new) {
		return ""
	}
	return udiff.Unified("a/"+name, "b/"+name, string(old), string(new))
}

// applyOne returns src with a applied, or a reason why it was not.
func applyOne(src []byte, a policy.Action) ([]byte, string) {
	f, err := newFile(src)
	if err != nil {
		return nil, "the file is not valid YAML: " + err.Error()
	}
	var (
		edits  []edit
		reason string
		exp    func(root any) error
	)
	switch a.Op {
	case policy.ActionAddSidecar:
		edits, exp, reason = f.addSidecar(a)
	case policy.ActionRepointDependsOn:
		edits, exp, reason = f.repoint(a)
	case policy.ActionSetEntrypoint:
		edits, exp, reason = f.setEntrypoint(a)
	default:
		return nil, fmt.Sprintf("unknown action %q", a.Op)
	}
	if reason != "" {
		return nil, reason
	}
	out, ok := applyEdits(src, edits)
	if !ok {
		return nil, "the edits overlap; edit the file by hand"
	}
	if err := verify(src, out, exp); err != nil {
		return nil, "the file cannot be edited safely here (" + err.Error() + "); edit it by hand"
	}
	return out, ""
}

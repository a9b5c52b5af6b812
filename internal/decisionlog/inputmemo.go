package decisionlog

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// inputMemoSize bounds the encoded inputs a logger remembers: as many as
// the policy set's decision cache holds decisions (policy's
// decisionCacheSize), about 2.5 KB each.
const inputMemoSize = 256

// inputMemo remembers the masked encoding of input values the logger has
// written, by the value itself: a decision the policy set's cache
// answered hands over the very input value it was remembered under
// (policy.Result.Input), so its line reuses the encoding instead of
// walking and masking the whole input again, which was most of the
// line's cost. Values are shared and never changed (authz.Record.Input),
// and the masks are the logger's own, fixed when it is opened, so an
// encoding stays right for as long as its value lives; the memo holding
// the value keeps its address from being reused.
type inputMemo struct {
	mu      sync.Mutex
	entries map[ast.Object][]byte
}

// get returns the remembered encoding of v, if any.
func (m *inputMemo) get(v ast.Value) ([]byte, bool) {
	o, ok := v.(ast.Object)
	if !ok {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.entries[o]
	return b, ok
}

// put remembers a copy of enc as the encoding of v, forgetting everything
// when full.
func (m *inputMemo) put(v ast.Value, enc []byte) {
	o, ok := v.(ast.Object)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil || len(m.entries) >= inputMemoSize {
		m.entries = make(map[ast.Object][]byte)
	}
	m.entries[o] = append([]byte(nil), enc...)
}

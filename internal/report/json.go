package report

import (
	"bytes"
	"encoding/json"

	"github.com/hardened-authz/hardened-authz/internal/check"
)

// writeJSON writes the Report as its JSON tags define it, with paths under
// the base directory made relative like in every other format: a CI
// artifact should not carry the runner's checkout path.
func writeJSON(buf *bytes.Buffer, r check.Report, p paths) error {
	if r.Findings == nil {
		// Scripts iterate over findings; null would make them special-case
		// the clean run.
		r.Findings = []check.Finding{}
	}
	for i := range r.Findings { // r.Findings is Write's sorted copy
		if rel, under := p.rel(r.Findings[i].File); under {
			r.Findings[i].File = rel
		}
		if e := r.Findings[i].Exception; e != nil {
			if rel, under := p.rel(e.File); under {
				// A copy: the caller's finding shares the pointer.
				c := *e
				c.File = rel
				r.Findings[i].Exception = &c
			}
		}
	}
	enc := json.NewEncoder(buf)
	enc.SetIndent("", "  ")
	// Messages quote compose YAML and shell commands; \u003c and \u0026
	// would only make them harder to read.
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

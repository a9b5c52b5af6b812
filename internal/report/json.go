package report

import (
	"bytes"
	"encoding/json"

	"github.com/hardened-authz/hardened-authz/internal/check"
)

// writeJSON writes the Report as its JSON tags define it. Paths are left
// as the checker recorded them: scripts get the raw data.
func writeJSON(buf *bytes.Buffer, r check.Report) error {
	if r.Findings == nil {
		// Scripts iterate over findings; null would make them special-case
		// the clean run.
		r.Findings = []check.Finding{}
	}
	enc := json.NewEncoder(buf)
	enc.SetIndent("", "  ")
	// Messages quote compose YAML and shell commands; \u003c and \u0026
	// would only make them harder to read.
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

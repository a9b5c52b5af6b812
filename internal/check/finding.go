package check

import "github.com/hardened-authz/hardened-authz/internal/policy"

// Severities of a finding, as the rules set them.
const (
	SeverityError   = policy.SeverityError
	SeverityWarning = policy.SeverityWarning
)

// Finding is one violation on one compose service, located in the file
// that sets it.
type Finding struct {
	// Rule is the rule ID (HA002).
	Rule string `json:"rule"`
	// Severity is "error" (a deny rule) or "warning" (a warn rule).
	Severity string `json:"severity"`
	// Title is the rule's one-line title.
	Title string `json:"title"`
	// Project is the compose project name.
	Project string `json:"project"`
	// Service is the compose service.
	Service string `json:"service"`
	// Image is the service's image reference.
	Image string `json:"image"`
	// ImageSource says where the image facts came from: "index" (the
	// image's files, through the local daemon), "daemon" (its config
	// only) or "catalog" (the shipped catalog, no daemon).
	ImageSource string `json:"image_source"`
	// File is the compose file, as given or found (relative when given
	// relative); Line and Column are 1-based, 0 when unknown.
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	// Message says what is wrong and why.
	Message string `json:"message"`
	// Fix says how to resolve it; Fix.Actions are what --fix applies.
	Fix policy.Fix `json:"fix"`
	// Demoted is true for a deny reported as a warning: by --mode warn
	// or dryrun, or by its rule's "warn" mode in data.enforcement.rules.
	Demoted bool `json:"demoted,omitempty"`
	// Skipped is true for a finding an exception of --exceptions
	// accepts; Exception says which. A skipped finding is neither an
	// error nor a warning, and --fix leaves it alone.
	Skipped   bool       `json:"skipped,omitempty"`
	Exception *Exception `json:"exception,omitempty"`
	// Notes are remarks on the finding: an exception that would have
	// accepted it, had it not expired.
	Notes []string `json:"notes,omitempty"`
}

// Exception is the --exceptions entry that accepted a finding.
type Exception struct {
	// File and Line locate the entry in the exceptions file.
	File string `json:"file"`
	Line int    `json:"line"`
	// Reason, Owner and Expires are the entry's (Expires as written; ""
	// for never).
	Reason  string `json:"reason"`
	Owner   string `json:"owner,omitempty"`
	Expires string `json:"expires,omitempty"`
}

// Summary counts a check's results.
type Summary struct {
	// Projects, Files and Services are how many were checked.
	Projects int `json:"projects"`
	Files    int `json:"files"`
	Services int `json:"services"`
	// Errors and Warnings count findings by severity, skipped ones left
	// out; Skipped counts those an exception accepted, and Off the
	// findings dropped because their rule is "off".
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Skipped  int `json:"skipped,omitempty"`
	Off      int `json:"off,omitempty"`
	// Fixed counts the fix actions applied by --fix (0 without it).
	Fixed int `json:"fixed"`
}

// Report is the result of checking one or more compose projects.
type Report struct {
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
}

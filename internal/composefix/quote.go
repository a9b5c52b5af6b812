package composefix

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"
)

// plainSafe lists the characters a plain scalar may be written with here:
// enough for service names, image references, durations and sizes, and none
// that mean something in flow collections or start YAML syntax.
var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_./][A-Za-z0-9_./:@+=-]*$`)

// scalar writes s for a YAML value: plain when that reads back as the same
// string, else double-quoted.
func scalar(s string) string {
	if plainSafe.MatchString(s) {
		var v any
		if yaml.Unmarshal([]byte(s), &v) == nil {
			if got, ok := v.(string); ok && got == s {
				return s
			}
		}
	}
	return quote(s)
}

// quote writes s as a JSON string, which is a valid YAML double-quoted
// scalar (JSON's escapes are a subset of YAML's), unlike Go's quoting
// (\x00, \a).
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return `""`
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// quoteAs writes s in the quoting style of the scalar it replaces, so a
// renamed entry looks like its neighbours.
func quoteAs(style yaml.Style, s string) string {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return quote(s)
	case style&yaml.SingleQuotedStyle != 0:
		if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == utf8.RuneError }) {
			return quote(s)
		}
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	default:
		return scalar(s)
	}
}

package enforce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/distribution/reference"
	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/policy"
	"github.com/hardened-authz/hardened-authz/internal/yamlnode"
)

// MaxExceptionsFile bounds the exceptions file: it is read whole, and an
// operator's list of exceptions is a few kilobytes.
const MaxExceptionsFile = 4 << 20

// Exception is one entry of the exceptions file: the rules it lets
// through, for the subjects its selectors match (all given selectors must
// match), until it expires.
type Exception struct {
	// Rules are the rule IDs it applies to.
	Rules []string `json:"rules"`
	// Image is a repository as normalized by Docker (docker.io/library/redis,
	// dhi.io/node), or a glob over such names; Digest an image's repo
	// digest or ID (sha256:…).
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
	// ComposeProject, ComposeService and Container are names or globs:
	// the compose project and service labels, and the container's name.
	ComposeProject string `json:"compose_project,omitempty"`
	ComposeService string `json:"compose_service,omitempty"`
	Container      string `json:"container,omitempty"`
	// Reason says why the finding is accepted; Owner who answers for it.
	Reason string `json:"reason"`
	Owner  string `json:"owner,omitempty"`
	// Expires is the first instant the exception no longer applies; zero
	// for never. A date in the file means the end of that day, UTC.
	Expires time.Time `json:"-"`
	// ExpiresText is expires as the file wrote it, for messages, and what
	// the JSON form of the file carries (Exceptions.JSON).
	ExpiresText string `json:"expires,omitempty"`
	// Line is where the entry starts in the file, for messages.
	Line int `json:"-"`
}

// Expired reports whether the exception no longer applies at now.
func (e *Exception) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && !now.Before(e.Expires)
}

// matches reports whether every selector the exception gives matches s.
func (e *Exception) matches(s *Subject) bool {
	return nameMatch(e.Image, s.Image) &&
		(e.Digest == "" || e.Digest == s.Digest || e.Digest == s.ImageID) &&
		nameMatch(e.ComposeProject, s.ComposeProject) &&
		nameMatch(e.ComposeService, s.ComposeService) &&
		nameMatch(e.Container, s.Container)
}

// nameMatch is one selector: absent matches anything, a given one never
// matches a subject that lacks the name.
func nameMatch(pattern, name string) bool {
	switch {
	case pattern == "":
		return true
	case name == "":
		return false
	case hasGlob(pattern):
		return globMatch(pattern, name)
	}
	return pattern == name
}

// Exceptions is a loaded exceptions file. It is read-only once loaded,
// so decisions share it without locks.
type Exceptions struct {
	// File is the path it was loaded from ("" for ParseExceptions' name).
	File string
	// List holds the entries in file order; an index into it names an
	// exception in decisions and reports.
	List []Exception
	// byRule indexes List by rule ID, so a finding costs one map lookup.
	byRule map[string][]int
}

// Len is the number of exceptions, 0 for nil.
func (x *Exceptions) Len() int {
	if x == nil {
		return 0
	}
	return len(x.List)
}

// match finds the first exception in file order for rule that matches s
// at now; expired is the first expired one that would have matched,
// which the decision then mentions. Both are -1 when there is none.
func (x *Exceptions) match(rule string, s *Subject, now time.Time) (live, expired int) {
	live, expired = -1, -1
	for _, i := range x.byRule[rule] {
		e := &x.List[i]
		if !e.matches(s) {
			continue
		}
		if e.Expired(now) {
			if expired < 0 {
				expired = i
			}
			continue
		}
		return i, expired
	}
	return -1, expired
}

// LoadExceptions reads and validates the exceptions file at path. The
// warnings name the exceptions already expired at now: they are kept (a
// finding they would have matched says so) but no longer apply. A file
// that is not exactly the documented format is an error naming the line
// and the field at fault: an exception the operator cannot trust to
// apply is worse than none.
func LoadExceptions(path string, now time.Time) (*Exceptions, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("exceptions: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("exceptions: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("exceptions %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxExceptionsFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("exceptions: %w", err)
	}
	if len(data) > MaxExceptionsFile {
		return nil, nil, fmt.Errorf("exceptions %s: larger than %d MiB", path, MaxExceptionsFile>>20)
	}
	x, warnings, err := ParseExceptions(path, data, now)
	if err != nil {
		return nil, nil, err
	}
	x.File = path
	return x, warnings, nil
}

// ParseExceptions is LoadExceptions on data already read; name is what
// messages call the file. JSON is accepted too: it is YAML.
func ParseExceptions(name string, data []byte, now time.Time) (*Exceptions, []string, error) {
	p := parser{name: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: empty: want a top-level \"exceptions:\" list (\"exceptions: []\" for none)", name)
		}
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, p.errorf(&extra, "", "a second YAML document: the file must hold one")
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	x, err := p.file(&doc)
	if err != nil {
		return nil, nil, err
	}
	x.File = name
	x.byRule = map[string][]int{}
	var warnings []string
	for i := range x.List {
		e := &x.List[i]
		for _, r := range e.Rules {
			if idx := x.byRule[r]; len(idx) == 0 || idx[len(idx)-1] != i {
				x.byRule[r] = append(idx, i)
			}
		}
		if e.Expired(now) {
			warnings = append(warnings, fmt.Sprintf("%s:%d: exception %d (%s) expired %s and no longer applies: %s",
				name, e.Line, i+1, strings.Join(e.Rules, ", "), e.ExpiresText, e.Reason))
		}
	}
	return x, warnings, nil
}

// parser turns the node tree into Exceptions, with positions in errors.
type parser struct{ name string }

// errorf is an error at n's position; field is the field at fault ("" for
// none).
func (p parser) errorf(n *yaml.Node, field, format string, args ...any) error {
	at := p.name
	if n != nil && n.Line > 0 {
		at = fmt.Sprintf("%s:%d:%d", p.name, n.Line, n.Column)
	}
	if field != "" {
		at += ": " + field
	}
	return fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...))
}

func (p parser) file(doc *yaml.Node) (*Exceptions, error) {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, p.errorf(root, "", "empty: want a top-level \"exceptions:\" list")
		}
		root = root.Content[0]
	}
	root = yamlnode.Resolve(root)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, "", "want a mapping with one key, \"exceptions\"")
	}
	var list *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if seen[k.Value] {
			return nil, p.errorf(k, k.Value, "given twice")
		}
		seen[k.Value] = true
		if k.Value != "exceptions" {
			return nil, p.errorf(k, k.Value, "unknown key: the file has one top-level key, \"exceptions\"")
		}
		list = yamlnode.Resolve(root.Content[i+1])
	}
	if list == nil {
		return nil, p.errorf(root, "exceptions", "missing")
	}
	if list.Kind != yaml.SequenceNode {
		return nil, p.errorf(list, "exceptions", "want a list of exceptions")
	}
	x := &Exceptions{List: make([]Exception, 0, len(list.Content))}
	for i, n := range list.Content {
		e, err := p.entry(i, yamlnode.Resolve(n))
		if err != nil {
			return nil, err
		}
		x.List = append(x.List, e)
	}
	return x, nil
}

// entry reads exceptions[i].
func (p parser) entry(i int, n *yaml.Node) (Exception, error) {
	where := fmt.Sprintf("exceptions[%d]", i)
	if n == nil || n.Kind != yaml.MappingNode {
		return Exception{}, p.errorf(n, where, "want a mapping (rules, reason and selectors)")
	}
	e := Exception{Line: n.Line}
	seen := map[string]bool{}
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], yamlnode.Resolve(n.Content[j+1])
		field := where + "." + k.Value
		if seen[k.Value] {
			return e, p.errorf(k, field, "given twice")
		}
		seen[k.Value] = true
		if k.Value == "rules" {
			rules, err := p.rules(field, v)
			if err != nil {
				return e, err
			}
			e.Rules = rules
			continue
		}
		var dst *string
		switch k.Value {
		case "image":
			dst = &e.Image
		case "digest":
			dst = &e.Digest
		case "compose_project":
			dst = &e.ComposeProject
		case "compose_service":
			dst = &e.ComposeService
		case "container":
			dst = &e.Container
		case "reason":
			dst = &e.Reason
		case "owner":
			dst = &e.Owner
		case "expires":
			dst = &e.ExpiresText
		default:
			return e, p.errorf(k, field, "unknown key: want rules, image, digest, compose_project, compose_service, container, reason, expires or owner")
		}
		s, err := p.text(field, v)
		if err != nil {
			return e, err
		}
		*dst = s
		if err := p.check(&e, k.Value, field, v); err != nil {
			return e, err
		}
	}
	switch {
	case !seen["rules"]:
		return e, p.errorf(n, where+".rules", "missing: list the rule IDs the exception lets through")
	case !seen["reason"]:
		return e, p.errorf(n, where+".reason", "missing: say why the findings are accepted")
	case e.Image == "" && e.Digest == "" && e.ComposeProject == "" && e.ComposeService == "" && e.Container == "":
		return e, p.errorf(n, where, "no selector: give at least one of image, digest, compose_project, compose_service or container (to silence a rule everywhere, set it \"off\" in data.enforcement.rules)")
	}
	return e, nil
}

// text is a scalar field's value: non-empty, any scalar (a reason may be
// a number, a date is a date), never a list or a mapping.
func (p parser) text(field string, v *yaml.Node) (string, error) {
	if v == nil || v.Kind != yaml.ScalarNode {
		return "", p.errorf(v, field, "want a single value")
	}
	if v.Tag == "!!null" || strings.TrimSpace(v.Value) == "" {
		return "", p.errorf(v, field, "empty")
	}
	return v.Value, nil
}

// rules reads the rules list.
func (p parser) rules(field string, v *yaml.Node) ([]string, error) {
	if v == nil || v.Kind != yaml.SequenceNode {
		return nil, p.errorf(v, field, "want a list of rule IDs ([HA002])")
	}
	if len(v.Content) == 0 {
		return nil, p.errorf(v, field, "empty: list the rule IDs the exception lets through")
	}
	rules := make([]string, 0, len(v.Content))
	for i, r := range v.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		id, err := p.text(f, yamlnode.Resolve(r))
		if err != nil {
			return nil, err
		}
		if strings.ContainsFunc(id, func(c rune) bool {
			return !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.')
		}) {
			return nil, p.errorf(r, f, "%q is not a rule ID (HA002)", id)
		}
		if policy.PluginRule(id) {
			return nil, p.errorf(r, f, "%s is one of the plugin's own rules (HA090 to HA099), which no exception may let through", id)
		}
		rules = append(rules, id)
	}
	return rules, nil
}

// check validates one selector or date as soon as it is read, so the
// error points at its line.
func (p parser) check(e *Exception, key, field string, v *yaml.Node) error {
	switch key {
	case "image":
		if hasGlob(e.Image) {
			return nil
		}
		named, err := reference.ParseNormalizedNamed(e.Image)
		if err != nil {
			return p.errorf(v, field, "%q is not an image repository: %v", e.Image, err)
		}
		if _, ok := named.(reference.Tagged); ok {
			return p.errorf(v, field, "%q has a tag: give the repository only (%s), and a digest for one image", e.Image, named.Name())
		}
		if _, ok := named.(reference.Digested); ok {
			return p.errorf(v, field, "%q has a digest: give it as digest:, the repository as image:", e.Image)
		}
		e.Image = named.Name()
	case "digest":
		hex, ok := strings.CutPrefix(e.Digest, "sha256:")
		if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
			return p.errorf(v, field, "%q is not a digest (sha256: and 64 lowercase hex digits)", e.Digest)
		}
	case "expires":
		t, err := parseExpiry(e.ExpiresText)
		if err != nil {
			return p.errorf(v, field, "%q is not a date (2027-03-01, the end of that day UTC) or an RFC 3339 time (2027-03-01T12:00:00Z)", e.ExpiresText)
		}
		e.Expires = t
	}
	return nil
}

// parseExpiry reads expires: a date is valid through the end of that day
// in UTC, so "expires: 2027-03-01" still applies all of March 1st
// wherever the plugin runs; an RFC 3339 time is the instant it stops.
func parseExpiry(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	return time.Parse(time.RFC3339, s)
}

// Merge is the exceptions of xs together, in order (nil ones skipped): an
// operator's file and those a policy bundle carries. An exception's index
// in decisions is its index in the merged list; its Line stays the line
// in its own file.
func Merge(xs ...*Exceptions) *Exceptions {
	var given []*Exceptions
	for _, x := range xs {
		if x.Len() > 0 {
			given = append(given, x)
		}
	}
	switch len(given) {
	case 0:
		return nil
	case 1:
		return given[0]
	}
	m := &Exceptions{byRule: map[string][]int{}}
	var names []string
	for _, x := range given {
		names = append(names, x.File)
		for _, e := range x.List {
			i := len(m.List)
			m.List = append(m.List, e)
			for _, r := range e.Rules {
				if idx := m.byRule[r]; len(idx) == 0 || idx[len(idx)-1] != i {
					m.byRule[r] = append(idx, i)
				}
			}
		}
	}
	m.File = strings.Join(names, ", ")
	return m
}

// JSON renders x in the exceptions file's format, as JSON: what a policy
// bundle carries (authz bundle build --exceptions). Expiry dates stay as
// the file wrote them; lines are the file's and are left out.
func (x *Exceptions) JSON() ([]byte, error) {
	doc := struct {
		Exceptions []Exception `json:"exceptions"`
	}{Exceptions: x.List}
	if doc.Exceptions == nil {
		doc.Exceptions = []Exception{}
	}
	return json.MarshalIndent(doc, "", "  ")
}

package composefix

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"

	"github.com/hardened-authz/hardened-authz/internal/yamlnode"
)

// file is one compose file's text with its YAML tree, for locating edits.
type file struct {
	src []byte
	// starts[i] is the byte offset of line i (0-based); the last element
	// is len(src), so line i is src[starts[i]:starts[i+1]].
	starts []int
	eol    string
	// root is the first document's top-level node, nil for an empty file.
	root *yaml.Node
	// aliased holds the nodes some alias points at: editing them, or
	// anything inside them, would also change every place that uses them.
	aliased map[*yaml.Node]bool
}

// parse reports whether src is YAML this package can work on. Decoding into
// a generic value as well as a node tree catches what the tree alone lets
// through (duplicate keys), which compose would reject too.
func parse(src []byte) error {
	var n yaml.Node
	if err := yaml.Unmarshal(src, &n); err != nil {
		return err
	}
	var v any
	return yaml.Unmarshal(src, &v)
}

func newFile(src []byte) (*file, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	f := &file{src: src, eol: detectEOL(src), aliased: map[*yaml.Node]bool{}}
	f.starts = append(f.starts, 0)
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			f.starts = append(f.starts, i+1)
		}
	}
	f.starts = append(f.starts, len(src))
	if len(doc.Content) > 0 {
		f.root = doc.Content[0]
		f.collectAliases(f.root, 0)
	}
	return f, nil
}

// maxDepth bounds the walks of the tree; compose files are shallow, and
// the parser already refuses absurd nesting.
const maxDepth = 10000

func (f *file) collectAliases(n *yaml.Node, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		f.aliased[n.Alias] = true
	}
	for _, c := range n.Content {
		f.collectAliases(c, depth+1)
	}
}

// shared reports whether an alias points at n or at a node inside it.
func (f *file) shared(n *yaml.Node) bool {
	return f.sharedDepth(n, 0)
}

func (f *file) sharedDepth(n *yaml.Node, depth int) bool {
	if n == nil || depth > maxDepth {
		return false
	}
	if f.aliased[n] {
		return true
	}
	for _, c := range n.Content {
		if f.sharedDepth(c, depth+1) {
			return true
		}
	}
	return false
}

func detectEOL(src []byte) string {
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

func (f *file) lines() int { return len(f.starts) - 1 }

// text is line i without its line ending.
func (f *file) text(i int) string {
	s := string(f.src[f.starts[i]:f.starts[i+1]])
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

// offset converts a node position to a byte offset in src, -1 when it is
// outside the text. The parser counts columns in characters, not bytes,
// and does not count a byte order mark.
func (f *file) offset(n *yaml.Node) int {
	i := n.Line - 1
	if i < 0 || i >= f.lines() || n.Column < 1 {
		return -1
	}
	off := f.starts[i]
	if i == 0 && bytes.HasPrefix(f.src, []byte("\uFEFF")) {
		off += len("\uFEFF")
	}
	end := f.starts[i+1]
	for c := 1; c < n.Column; c++ {
		if off >= end || f.src[off] == '\n' {
			return -1
		}
		_, size := utf8.DecodeRune(f.src[off:end])
		off += size
	}
	return off
}

// lineStart returns the line and indentation of a node that begins its
// line (a block mapping key), ok false when something precedes it.
func (f *file) lineStart(n *yaml.Node) (line, indent int, ok bool) {
	off := f.offset(n)
	if off < 0 {
		return 0, 0, false
	}
	line = n.Line - 1
	for p := f.starts[line]; p < off; p++ {
		if f.src[p] != ' ' {
			return 0, 0, false
		}
	}
	return line, off - f.starts[line], true
}

// itemStart is lineStart for a block sequence item: the line must be
// nothing but indentation, "-" and the item. indent is the dash's.
func (f *file) itemStart(n *yaml.Node) (line, indent int, ok bool) {
	off := f.offset(n)
	if off < 0 {
		return 0, 0, false
	}
	line = n.Line - 1
	p := off - 1
	for p >= f.starts[line] && f.src[p] == ' ' {
		p--
	}
	if p < f.starts[line] || f.src[p] != '-' || p == off-1 {
		return 0, 0, false
	}
	for q := f.starts[line]; q < p; q++ {
		if f.src[q] != ' ' {
			return 0, 0, false
		}
	}
	return line, p - f.starts[line], true
}

// blockEnd returns the last line of the block that starts on line start
// with a key (or dash) at indent and has the value n: the last line of the
// value's nodes, then every following line indented deeper than indent
// (continuation lines, block scalars, comments inside the block), up to the
// first line that is not. Blank lines count only when a deeper line follows:
// trailing blank lines and comments at or left of indent belong to what
// comes next.
func (f *file) blockEnd(start, indent int, n *yaml.Node) int {
	end := max(start, maxLine(n, 0)-1)
	for i := end + 1; i < f.lines(); i++ {
		t := f.text(i)
		body := strings.TrimLeft(t, " ")
		if strings.TrimSpace(body) == "" {
			continue
		}
		// A tab before the content is not YAML indentation; treat the line
		// as the block's end rather than guess.
		if len(t)-len(body) <= indent || body[0] == '\t' {
			break
		}
		end = i
	}
	return min(end, f.lines()-1)
}

func maxLine(n *yaml.Node, depth int) int {
	if n == nil || depth > maxDepth {
		return 0
	}
	m := n.Line
	for _, c := range n.Content {
		m = max(m, maxLine(c, depth+1))
	}
	return m
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// lookup is the value of key in a mapping or in what it merges, aliases
// followed: for reading only, as a merged key's text is elsewhere.
func lookup(m *yaml.Node, key string) *yaml.Node {
	_, v := yamlnode.Lookup(m, key)
	return yamlnode.Resolve(v)
}

func isFlow(n *yaml.Node) bool { return n.Style&yaml.FlowStyle != 0 }

// serviceBlock is a service found by (*file).serviceBlock, with the lines
// an edit of it needs.
type serviceBlock struct {
	svcs, key, val *yaml.Node // services, the service's key and its mapping
	line, indent   int        // the line (0-based) and indentation of its key
	end            int        // the last line of its block
	childIndent    int        // the indentation of its settings
}

// serviceBlock finds services.<name> as service does, and the lines of its
// block: its settings must be laid out one per line below its key, so that
// lines can be inserted among them with the file's own indentation.
func (f *file) serviceBlock(name string) (serviceBlock, string) {
	svcs, key, val, reason := f.service(name)
	if reason != "" {
		return serviceBlock{}, reason
	}
	b := serviceBlock{svcs: svcs, key: key, val: val}
	b.line, b.indent, _ = f.lineStart(key)
	b.end = f.blockEnd(b.line, b.indent, val)
	_, child, ok := f.lineStart(val.Content[0])
	if !ok || child <= b.indent || val.Content[0].Line-1 <= b.line {
		return serviceBlock{}, fmt.Sprintf("the settings of service %q are not laid out one per line; edit the file by hand", name)
	}
	b.childIndent = child
	return b, ""
}

// service finds services.<name> as a block mapping this package can edit,
// or says why not.
func (f *file) service(name string) (svcs, key, val *yaml.Node, reason string) {
	if f.root == nil || f.root.Kind != yaml.MappingNode {
		return nil, nil, nil, "the file is not a compose file (its top level is not a mapping)"
	}
	_, svcs = yamlnode.Get(f.root, "services")
	switch {
	case svcs == nil:
		return nil, nil, nil, "the file has no services"
	case svcs.Kind == yaml.AliasNode:
		return nil, nil, nil, "services is a YAML alias; edit the file by hand"
	case svcs.Kind != yaml.MappingNode:
		return nil, nil, nil, "the file has no services"
	case isFlow(svcs):
		return nil, nil, nil, "services is a flow mapping ({...}), which cannot be edited safely; edit the file by hand"
	}
	key, val = yamlnode.Get(svcs, name)
	switch {
	case key == nil && lookup(svcs, name) != nil:
		return nil, nil, nil, fmt.Sprintf("service %q comes from a YAML merge key (<<); edit the file by hand", name)
	case key == nil:
		return nil, nil, nil, fmt.Sprintf("service %q is not defined in this file", name)
	case val.Kind == yaml.AliasNode:
		return nil, nil, nil, fmt.Sprintf("service %q is a YAML alias (*%s); edit the file by hand", name, val.Value)
	case val.Kind != yaml.MappingNode || len(val.Content) == 0:
		return nil, nil, nil, fmt.Sprintf("service %q has no settings in this file", name)
	case isFlow(val):
		return nil, nil, nil, fmt.Sprintf("service %q is a flow mapping ({...}), which cannot be edited safely; edit the file by hand", name)
	}
	if _, _, ok := f.lineStart(key); !ok {
		return nil, nil, nil, fmt.Sprintf("service %q does not start its line; edit the file by hand", name)
	}
	if f.aliased[svcs] || f.aliased[val] {
		return nil, nil, nil, fmt.Sprintf("service %q is a YAML anchor that other parts of the file use, so editing it would change them too; edit the file by hand", name)
	}
	return svcs, key, val, ""
}

package composefix

import (
	"bytes"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// applyEdits applies non-overlapping edits, all given as offsets in src.
// An insertion at the offset where a replacement starts goes first, and
// insertions at one offset keep their order.
func applyEdits(src []byte, edits []edit) ([]byte, bool) {
	es := slices.Clone(edits)
	slices.SortStableFunc(es, func(a, b edit) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return (a.end - a.start) - (b.end - b.start)
	})
	var out bytes.Buffer
	pos := 0
	for _, e := range es {
		if e.start < pos || e.end < e.start || e.end > len(src) {
			return nil, false
		}
		out.Write(src[pos:e.start])
		out.WriteString(e.text)
		pos = e.end
	}
	out.Write(src[pos:])
	return out.Bytes(), true
}

// lineRange is the edit covering lines first..last (whole lines).
func (f *file) lineRange(first, last int, text string) edit {
	return edit{start: f.starts[first], end: f.starts[last+1], text: text}
}

// scalarEnd returns the offset just past the source text of the one-line
// scalar n that starts at off, -1 when its extent is not certain.
func (f *file) scalarEnd(n *yaml.Node, off int) int {
	end := f.starts[n.Line] // the end of n's line
	if n.Anchor != "" || off >= end {
		return -1
	}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0 && f.src[off] == '"':
		for p := off + 1; p < end; p++ {
			switch f.src[p] {
			case '\\':
				p++
			case '"':
				return p + 1
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0 && f.src[off] == '\'':
		for p := off + 1; p < end; p++ {
			if f.src[p] == '\'' {
				if p+1 < end && f.src[p+1] == '\'' {
					p++
					continue
				}
				return p + 1
			}
		}
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0:
		if v := n.Value; v != "" && !strings.ContainsAny(v, "\r\n") && off+len(v) <= end &&
			string(f.src[off:off+len(v)]) == v {
			return off + len(v)
		}
	}
	return -1
}

// flowEntryEnd scans a flow collection's entry that starts at off and
// returns the offset of the "," or closing bracket that ends it, -1 when
// the text ends first.
func (f *file) flowEntryEnd(off int) int {
	depth := 0
	src := f.src
	for p := off; p < len(src); p++ {
		switch c := src[p]; c {
		case '"':
			for p++; p < len(src) && src[p] != '"'; p++ {
				if src[p] == '\\' {
					p++
				}
			}
		case '\'':
			for p++; p < len(src); p++ {
				if src[p] == '\'' {
					if p+1 < len(src) && src[p+1] == '\'' {
						p++
						continue
					}
					break
				}
			}
		case '#':
			if p > 0 && (src[p-1] == ' ' || src[p-1] == '\t' || src[p-1] == '\n') {
				for p < len(src) && src[p] != '\n' {
					p++
				}
			}
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return p
			}
			depth--
		case ',':
			if depth == 0 {
				return p
			}
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// removeFlowEntry returns the edit that removes the flow collection entry
// starting at off together with one separating comma.
func (f *file) removeFlowEntry(off int) (edit, bool) {
	stop := f.flowEntryEnd(off)
	if stop < 0 {
		return edit{}, false
	}
	if f.src[stop] == ',' {
		next := stop + 1
		for next < len(f.src) && (f.src[next] == ' ' || f.src[next] == '\t') {
			next++
		}
		return edit{start: off, end: next}, true
	}
	// The last entry: take the comma before it instead, so "[a, b]" becomes
	// "[a]" and not "[a, ]".
	end := stop
	for end > off && isSpace(f.src[end-1]) {
		end--
	}
	comma := off - 1
	for comma >= 0 && isSpace(f.src[comma]) {
		comma--
	}
	if comma < 0 || f.src[comma] != ',' {
		return edit{}, false
	}
	return edit{start: comma, end: end}, true
}

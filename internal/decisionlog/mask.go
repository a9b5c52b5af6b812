package decisionlog

import (
	"errors"
	"fmt"
	"strings"
)

// Bounds on one --mask pattern: the walker tries every pattern at every
// node of the input, so a pattern's cost must stay small and known.
const (
	maxPatternBytes    = 1024
	maxPatternSegments = 32
	// maxDeepWildcards bounds the "**" segments of one pattern: each one
	// multiplies the ways a path can match it.
	maxDeepWildcards = 2
)

// Mask is one --mask pattern: a path into the input document whose value
// the decision log replaces with redact.Marker.
//
// The syntax is a JSON Pointer (RFC 6901) whose segments may be globs:
//
//   - "/" separates segments; "~1" in a segment is a literal "/", "~0" a
//     literal "~" (so the label key "a/b" is "a~1b");
//   - "*" in a segment matches any run of characters within that segment:
//     "/container/labels/secret*" matches every label whose key starts
//     with "secret";
//   - a segment that is exactly "**" matches any number of segments, none
//     included: "/**/password" matches a key "password" at any depth;
//   - an array element's segment is its index ("/container/command/2");
//   - letters match in any case, so a pattern errs towards masking.
//
// A matched value is replaced whole, whatever its type.
type Mask struct {
	pattern  string
	segments []segment
}

// segment is one parsed path segment.
type segment struct {
	glob string // lower case; '*' is the wildcard
	deep bool   // "**": any number of segments
}

// String returns the pattern as given.
func (m Mask) String() string { return m.pattern }

// ParseMask parses a --mask pattern (see Mask).
func ParseMask(pattern string) (Mask, error) {
	switch {
	case pattern == "":
		return Mask{}, errors.New("empty mask pattern: want a path such as /container/labels/secret*")
	case len(pattern) > maxPatternBytes:
		return Mask{}, fmt.Errorf("mask pattern of %d bytes: at most %d", len(pattern), maxPatternBytes)
	case pattern[0] != '/':
		return Mask{}, fmt.Errorf("mask pattern %q: must start with / (a path into the input, such as /container/labels/secret*)", pattern)
	case pattern == "/":
		return Mask{}, errors.New(`mask pattern "/" would mask the whole input: name the fields to mask`)
	}
	parts := strings.Split(pattern[1:], "/")
	if len(parts) > maxPatternSegments {
		return Mask{}, fmt.Errorf("mask pattern %q: %d segments, at most %d", pattern, len(parts), maxPatternSegments)
	}
	m := Mask{pattern: pattern, segments: make([]segment, 0, len(parts))}
	deep := 0
	for _, p := range parts {
		if p == "" {
			return Mask{}, fmt.Errorf("mask pattern %q: empty segment (// or a trailing /)", pattern)
		}
		if p == "**" {
			deep++
			if deep > maxDeepWildcards {
				return Mask{}, fmt.Errorf("mask pattern %q: more than %d ** segments", pattern, maxDeepWildcards)
			}
			// "**/**" is "**": keeping one bounds the matching work.
			if n := len(m.segments); n > 0 && m.segments[n-1].deep {
				continue
			}
			m.segments = append(m.segments, segment{deep: true})
			continue
		}
		if strings.Contains(p, "**") {
			return Mask{}, fmt.Errorf("mask pattern %q: ** must be a whole segment (/**/), not part of %q", pattern, p)
		}
		g, err := unescapeSegment(p)
		if err != nil {
			return Mask{}, fmt.Errorf("mask pattern %q: %w", pattern, err)
		}
		m.segments = append(m.segments, segment{glob: lowerASCII(g)})
	}
	return m, nil
}

// unescapeSegment applies RFC 6901's escapes: ~0 is ~ and ~1 is /.
func unescapeSegment(s string) (string, error) {
	if !strings.Contains(s, "~") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '~' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) || (s[i+1] != '0' && s[i+1] != '1') {
			return "", fmt.Errorf("segment %q: ~ must be followed by 0 (for ~) or 1 (for /)", s)
		}
		if s[i+1] == '0' {
			b.WriteByte('~')
		} else {
			b.WriteByte('/')
		}
		i++
	}
	return b.String(), nil
}

// matches reports whether the mask matches the path, a list of keys and
// array indexes from the document's root.
func (m *Mask) matches(path []string) bool { return matchSegments(m.segments, path) }

func matchSegments(segs []segment, path []string) bool {
	for len(segs) > 0 {
		s := segs[0]
		if s.deep {
			rest := segs[1:]
			if len(rest) == 0 {
				return true
			}
			for i := 0; i <= len(path); i++ {
				if matchSegments(rest, path[i:]) {
					return true
				}
			}
			return false
		}
		if len(path) == 0 || !matchGlob(s.glob, path[0]) {
			return false
		}
		segs, path = segs[1:], path[1:]
	}
	return len(path) == 0
}

// matchGlob reports whether s matches the glob g ('*' matches any run of
// bytes), comparing ASCII letters in any case. g is lower case already.
// It is the usual linear-time backtracking over the last '*'.
func matchGlob(g, s string) bool {
	gi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case gi < len(g) && g[gi] == '*':
			star, mark = gi, si
			gi++
		case gi < len(g) && g[gi] == lowerByte(s[si]):
			gi++
			si++
		case star >= 0:
			gi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for gi < len(g) && g[gi] == '*' {
		gi++
	}
	return gi == len(g)
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerByte(b[j])
			}
			return string(b)
		}
	}
	return s
}

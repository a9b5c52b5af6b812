package input

import (
	"net/netip"
	"strings"
)

// probeLoopback reports whether a probe URL's host is the probing
// container itself, in any spelling curl (and glibc's getaddrinfo, and
// Docker's /etc/hosts) resolves to it:
//
//   - IPv4 127.0.0.0/8 and 0.0.0.0 (connecting to it reaches the
//     loopback interface) in every form inet_aton and curl's URL parser
//     accept: one to four parts, each decimal, octal (leading 0) or hex
//     (0x): 127.1, 0x7f.1, 017700000001, 2130706433, 0;
//   - IPv6 in brackets: ::1 and :: in any notation, and the v4-mapped
//     forms of the addresses above (::ffff:127.0.0.1), with or without a
//     zone (%25lo);
//   - the names localhost and *.localhost (curl resolves them to loopback
//     itself; RFC 6761), with or without a trailing dot, in any case, and
//     ip6-localhost and ip6-loopback (in every container's /etc/hosts).
//
// The host may be percent-encoded, as curl decodes it. The URL must be
// http or https with an all-digit port, if any, as the regex of
// hardened.lib.sidecar.probes_localhost requires; anything else, and any
// other host (127.0.0.1.example.com, localhost.example, [::2]), is not
// loopback. It reads the URL once and allocates only for a percent-encoded
// host.
func probeLoopback(rawURL string) bool {
	rest, ok := cutHTTPScheme(rawURL)
	if !ok {
		return false
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if _, after, found := strings.Cut(rest, "@"); found {
		// As the regex: one userinfo, without "@" in it.
		if strings.IndexByte(after, '@') >= 0 {
			return false
		}
		rest = after
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return false
		}
		host, port := rest[1:end], rest[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
		}
		return allDigits(port) && loopbackIPv6(host)
	}
	host, port, _ := strings.Cut(rest, ":")
	if !allDigits(port) || host == "" {
		return false
	}
	if strings.IndexByte(host, '%') >= 0 {
		if host, ok = percentDecode(host); !ok {
			return false
		}
	}
	return loopbackName(host) || loopbackIPv4(host)
}

// cutHTTPScheme returns the URL after "http://" or "https://" (any case).
func cutHTTPScheme(u string) (string, bool) {
	for _, p := range [...]string{"http://", "https://"} {
		if len(u) >= len(p) && strings.EqualFold(u[:len(p)], p) {
			return u[len(p):], true
		}
	}
	return "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// loopbackName: localhost, *.localhost (either with a trailing dot),
// ip6-localhost, ip6-loopback; any case.
func loopbackName(h string) bool {
	if strings.EqualFold(h, "ip6-localhost") || strings.EqualFold(h, "ip6-loopback") {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	const tail = ".localhost"
	return strings.EqualFold(h, "localhost") ||
		len(h) > len(tail) && strings.EqualFold(h[len(h)-len(tail):], tail)
}

// loopbackIPv4: an inet_aton spelling of 127.0.0.0/8 or 0.0.0.0.
func loopbackIPv4(h string) bool {
	a, ok := parseInetAton(h)
	return ok && (a>>24 == 127 || a == 0)
}

// loopbackIPv6: the inside of a URL's brackets is ::1, ::, or the
// v4-mapped form of a loopback IPv4 address, with an optional zone.
func loopbackIPv6(h string) bool {
	if i := strings.IndexByte(h, '%'); i >= 0 {
		h = h[:i]
	}
	a, err := netip.ParseAddr(h)
	if err != nil || !a.Is6() {
		// curl takes only IPv6 in brackets: [127.0.0.1] is a bad URL.
		return false
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	return a.IsLoopback() || a.IsUnspecified()
}

// parseInetAton parses an IPv4 address as glibc's inet_aton and curl's
// URL parser do: one to four parts separated by dots, each decimal, octal
// (a leading 0) or hexadecimal (0x or 0X, at least one digit); the last
// part fills the remaining bytes (127.1 is 127.0.0.1). No trailing dot,
// sign or space.
func parseInetAton(s string) (uint32, bool) {
	var parts [4]uint64
	n := 0
	for {
		if n == len(parts) {
			return 0, false
		}
		v, rest, ok := parseAtonPart(s)
		if !ok {
			return 0, false
		}
		parts[n], n = v, n+1
		if rest == "" {
			break
		}
		if rest[0] != '.' {
			return 0, false
		}
		s = rest[1:]
	}
	var a uint64
	for i := range n - 1 {
		if parts[i] > 0xff {
			return 0, false
		}
		a |= parts[i] << (24 - 8*i)
	}
	last := parts[n-1]
	if last > 0xffffffff>>(8*(n-1)) {
		return 0, false
	}
	return uint32(a | last), true
}

// parseAtonPart reads one number of an inet_aton address, as strtoul with
// base 0, up to 0xffffffff; rest is what follows it.
func parseAtonPart(s string) (v uint64, rest string, ok bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, "", false
	}
	base, i := uint64(10), 0
	if s[0] == '0' {
		base, i = 8, 1
		if len(s) > 1 && (s[1] == 'x' || s[1] == 'X') {
			base, i = 16, 2
		}
	}
	start := i
	for ; i < len(s); i++ {
		d := digitValue(s[i])
		if d >= base {
			break
		}
		if v = v*base + d; v > 0xffffffff {
			return 0, "", false
		}
	}
	if base == 16 && i == start {
		return 0, "", false
	}
	return v, s[i:], true
}

func digitValue(c byte) uint64 {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0')
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10
	}
	return 99
}

// percentDecode decodes %XX escapes; false for a malformed one.
func percentDecode(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return "", false
			}
			hi, lo := digitValue(s[i+1]), digitValue(s[i+2])
			if hi > 15 || lo > 15 {
				return "", false
			}
			c, i = byte(hi<<4|lo), i+2
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// Package redact removes credentials from text that quotes what a user
// wrote, before the text leaves the plugin.
//
// A deny message quotes the request's healthcheck, and its fix repeats the
// probe URL: dockerd logs the message, docker and docker compose print it,
// and CI keeps `authz check` reports. A healthcheck such as
// `curl -u admin:s3cret -H "Authorization: Bearer …" http://admin:s3cret@app/`
// would put its credentials in all of them. String finds them in free text,
// whatever the rendering (a shell command, an exec-form array as JSON, a
// compose snippet, a docker run line), and replaces each with Marker:
//
//   - URL userinfo: https://user:pass@host/ → https://<redacted>@host/, and
//     user:pass@host without a scheme; a URL authority an excerpt cut short
//     ("http://admin:s3…") goes whole;
//   - curl and wget options: the password of -u/--user, -U/--proxy-user and
//     --cert (after the first colon; -E when it names a certificate file,
//     since grep -E is common too), the value of -H/--header (the header
//     name is kept), and the whole value of every long option whose name
//     says secret (--password, --http-password, --oauth2-bearer, --pass,
//     --api-key, …), as `--opt value` or `--opt=value`;
//   - assignments and query parameters whose name says secret: ?token=,
//     &access_token=, password=, apikey=, PGPASSWORD=, …;
//   - the credentials after a Bearer or Basic authentication scheme;
//   - mysql -p<password> and redis-cli -a <password>, when the text runs
//     mysql, mariadb or redis-cli.
//
// It errs towards redacting too much: a redacted word that was no secret
// costs a less helpful message, a missed one a leaked credential.
package redact

import (
	"cmp"
	"slices"
	"strings"
)

// Marker replaces every secret. It is not a valid value for any of the
// options it replaces, so a redacted command cannot be mistaken for a
// working one.
const Marker = "<redacted>"

// Bounds on how far one secret is looked for, so that the work stays linear
// in the input whatever it holds.
const (
	// maxName bounds an option or parameter name.
	maxName = 64
	// maxGap bounds the separators between an option and its value
	// (`", "` in an exec-form array).
	maxGap = 8
)

// String returns s with every credential it finds replaced by Marker. It
// allocates only when it redacts something.
func String(s string) string {
	r := redactor{s: s}
	r.userinfo()
	r.truncated()
	r.assignments()
	r.options()
	r.schemes()
	if len(r.spans) == 0 {
		return s
	}
	return r.apply()
}

// span is a byte range of the input to replace with Marker.
type span struct{ start, end int }

type redactor struct {
	s     string
	spans []span
	// programs caches which programs with their own password options the
	// text runs, looked up on the first option that needs it.
	programs programSet
}

type programSet uint8

const (
	programsKnown programSet = 1 << iota
	runsMySQL
	runsRedis
)

func (r *redactor) add(start, end int) {
	if start >= end || r.s[start:end] == Marker {
		return
	}
	r.spans = append(r.spans, span{start, end})
}

// apply builds the output from the spans, merged where they overlap.
func (r *redactor) apply() string {
	sp := r.spans
	// Each rule adds its spans in order; together they are not.
	slices.SortFunc(sp, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	var b strings.Builder
	b.Grow(len(r.s) + len(sp)*len(Marker))
	pos := 0
	for i := 0; i < len(sp); {
		start, end := sp[i].start, sp[i].end
		for i++; i < len(sp) && sp[i].start <= end; i++ {
			end = max(end, sp[i].end)
		}
		if start < pos {
			start = pos
		}
		b.WriteString(r.s[pos:start])
		b.WriteString(Marker)
		pos = end
	}
	b.WriteString(r.s[pos:])
	return b.String()
}

// userinfo redacts the userinfo of scheme://userinfo@host, and
// user:password@host without a scheme (curl takes `curl admin:pw@app/`).
// It looks back from each '@' to the start of its word: after "://" all of
// it is userinfo (a token alone is a credential); without a scheme the run
// must hold a colon, so that mail addresses and image digests
// (name@sha256:…) stay. A '/', '?' or '#' before the '@' puts it in a path
// or query instead. The last '@' of a run ends the userinfo, as in curl,
// so a password with an '@' in it goes whole.
//
// Each look back stops at the previous '@' and takes over what that one
// found, so the work stays linear however many there are.
func (r *redactor) userinfo() {
	s := r.s
	const (
		plain = iota // a word, no colon yet
		creds        // a word with a colon, or after "://"
		path         // after a '/', '?' or '#' that is not "://"
	)
	prevAt, prevStart, prevKind := -1, 0, plain
	for from := 0; from < len(s); {
		i := strings.IndexByte(s[from:], '@')
		if i < 0 {
			return
		}
		i += from
		from = i + 1
		k, kind := i, plain
		for k > 0 && k-1 != prevAt && !userinfoEnd(s[k-1]) {
			if s[k-1] == ':' {
				kind = creds
			}
			k--
		}
		switch {
		case k > 0 && k-1 == prevAt:
			// The run goes on through the previous '@'.
			k = prevStart
			kind = max(kind, prevKind)
		case k >= 3 && s[k-3:k] == "://":
			kind = creds
		case k > 0 && (s[k-1] == '/' || s[k-1] == '?' || s[k-1] == '#'):
			kind = path
		}
		prevAt, prevStart, prevKind = i, k, kind
		if kind == creds {
			r.add(k, i)
		}
	}
}

// truncated redacts a URL authority that an excerpt cut short with "…"
// (text.truncate in the rules) before its '@': it cannot be told from
// host:port any more, and may end in half a password.
func (r *redactor) truncated() {
	s := r.s
	const ellipsis = "…"
	for from := 0; from < len(s); {
		i := strings.Index(s[from:], ellipsis)
		if i < 0 {
			return
		}
		i += from
		from = i + len(ellipsis)
		k := i
		for k > 0 && !userinfoEnd(s[k-1]) && s[k-1] != '@' {
			k--
		}
		if k >= 3 && s[k-3:k] == "://" {
			r.add(k, i)
		}
	}
}

// assignments redacts the value of name=value when the name says secret:
// query parameters, environment assignments, key=value settings. Options
// (--password=…) are left to options, which knows their forms.
func (r *redactor) assignments() {
	s := r.s
	for from := 0; from < len(s); {
		i := strings.IndexByte(s[from:], '=')
		if i < 0 {
			return
		}
		i += from
		from = i + 1
		k := i
		for k > 0 && i-k < maxName && nameChar(s[k-1]) {
			k--
		}
		if k == i || s[k] == '-' || (k > 0 && !nameStart(s[k-1])) || !sensitive(s[k:i]) {
			continue
		}
		vs, ve := r.attached(i+1, k, true)
		r.add(vs, ve)
		from = max(from, ve)
	}
}

// Kinds of option value.
const (
	valueNone   = iota
	valueSecret // all of it
	valueUser   // user:password, or file:passphrase: after the first colon
	valueHeader // Name: value: after the colon
	// valueCert is curl's -E certificate[:password]. grep -E is common in
	// healthchecks too, so only a value that names a certificate file
	// counts.
	valueCert
)

// options redacts the values of command-line options that carry
// credentials, in each form curl and wget take them: `-u v`, `-uv`, `-su v`,
// `--user v`, `--user=v`, each possibly quoted, and in an exec-form array
// (`"-u", "v"`).
func (r *redactor) options() {
	s := r.s
	for from := 0; from < len(s); {
		i := strings.IndexByte(s[from:], '-')
		if i < 0 {
			return
		}
		i += from
		from = i + 1
		if i > 0 && !wordStart(s[i-1]) {
			// Inside a word (an image tag, a name): no option starts
			// before its end.
			for from < len(s) && nameChar(s[from]) {
				from++
			}
			continue
		}
		long := i+1 < len(s) && s[i+1] == '-'
		ns := i + 1
		if long {
			ns++
		}
		j := ns
		for j < len(s) && j-ns < maxName && nameChar(s[j]) {
			j++
		}
		if j == ns {
			continue
		}
		name := s[ns:j]
		var kind int
		var vs, ve int
		if long {
			var mustValue bool
			kind, mustValue = longOption(name)
			if kind == valueNone {
				continue
			}
			if j < len(s) && s[j] == '=' {
				vs, ve = r.attached(j+1, i, false)
			} else {
				vs, ve = r.next(j, !mustValue)
			}
		} else {
			var attached bool
			kind, attached = r.shortOption(name)
			switch {
			case kind == valueNone:
				continue
			case attached:
				vs, ve = r.attached(i+2, i, false)
			default:
				vs, ve = r.next(j, false)
			}
		}
		if vs >= ve {
			continue
		}
		switch kind {
		case valueSecret:
			r.add(vs, ve)
		case valueUser:
			if c := strings.IndexByte(s[vs:ve], ':'); c >= 0 {
				r.add(vs+c+1, ve)
			}
		case valueCert:
			if c := strings.IndexByte(s[vs:ve], ':'); c >= 0 && certFile(s[vs:vs+c]) {
				r.add(vs+c+1, ve)
			}
		case valueHeader:
			if c := strings.IndexByte(s[vs:ve], ':'); c >= 0 {
				p := vs + c + 1
				for p < ve && (s[p] == ' ' || s[p] == '\t') {
					p++
				}
				r.add(p, ve)
			}
		}
		from = max(from, ve)
	}
}

// longOption classifies a long option by name; mustValue says the option
// always takes a value, so the next word is its value even when it starts
// with a dash.
func longOption(name string) (kind int, mustValue bool) {
	switch name {
	case "user", "proxy-user", "http-user", "ftp-user", "cert", "proxy-cert":
		return valueUser, true
	case "header", "proxy-header":
		return valueHeader, true
	case "oauth2-bearer", "pass", "password", "proxy-pass", "proxy-password", "http-password", "ftp-password":
		return valueSecret, true
	case "anyauth", "proxy-anyauth", "auth-no-challenge", "ask-password", "no-password", "no-auth",
		"basic", "digest", "ntlm", "negotiate", "proxy-basic", "proxy-digest", "proxy-ntlm", "proxy-negotiate":
		return valueNone, false // flags without a value
	}
	if sensitive(name) {
		return valueSecret, false
	}
	return valueNone, false
}

// shortOption classifies a short option word (without its dash): curl's
// -u, -U, -E and -H, alone, with the value attached (-uadmin:pw), or last
// in a cluster of flags (-su); mysql's -p<password>; redis-cli's -a.
func (r *redactor) shortOption(name string) (kind int, attached bool) {
	kindOf := func(c byte) int {
		switch c {
		case 'u', 'U':
			return valueUser
		case 'E':
			return valueCert
		case 'H':
			return valueHeader
		}
		return valueNone
	}
	if k := kindOf(name[0]); k != valueNone {
		return k, len(name) > 1
	}
	switch {
	case name[0] == 'p' && len(name) > 1 && r.runs(runsMySQL):
		return valueSecret, true
	case name == "a" && r.runs(runsRedis):
		return valueSecret, false
	}
	if len(name) <= 6 && allLetters(name) {
		return kindOf(name[len(name)-1]), false
	}
	return valueNone, false
}

// runs reports whether the text runs one of the programs in p.
func (r *redactor) runs(p programSet) bool {
	if r.programs&programsKnown == 0 {
		r.programs |= programsKnown
		if strings.Contains(r.s, "mysql") || strings.Contains(r.s, "mariadb") {
			r.programs |= runsMySQL
		}
		if strings.Contains(r.s, "redis-cli") {
			r.programs |= runsRedis
		}
	}
	return r.programs&p != 0
}

// attached is the value that starts at vs, right after "name=" or a short
// option's letter. A quoted value runs to its closing quote. An unquoted one
// runs to the end of the word, or, when the word itself opens a quoted
// string (`"--header=Authorization: Bearer x"`, an exec-form element), to
// the end of that string. word is where the option or name starts. query
// ends the value at '&' too, as in a URL's query.
func (r *redactor) attached(vs, word int, query bool) (int, int) {
	s := r.s
	if c, esc, n := quoteAt(s, vs); n > 0 {
		return vs + n, closeQuote(s, vs+n, c, esc)
	}
	if word > 0 && isQuote(s[word-1]) {
		esc := word > 1 && s[word-2] == '\\'
		return vs, closeQuote(s, vs, s[word-1], esc)
	}
	ve := vs
	for ve < len(s) && !valueEnd(s[ve]) && !(query && (s[ve] == '&' || s[ve] == '#')) {
		ve++
	}
	return vs, ve
}

// next is the value in the word after an option that ends at j: past the
// separators between them (a space, or `", "` in an exec-form array), to
// the end of that word, or of the quoted string it opens. noDash refuses a
// word that starts with a dash, for options that may take no value.
func (r *redactor) next(j int, noDash bool) (int, int) {
	s := r.s
	k := j
	for k < len(s) && k-j < maxGap && separator(s[k]) {
		k++
	}
	if k == j || k == len(s) || k-j == maxGap || (noDash && s[k] == '-') {
		return 0, 0
	}
	if q := s[k-1]; isQuote(q) {
		esc := k-2 >= j && s[k-2] == '\\'
		return k, closeQuote(s, k, q, esc)
	}
	ve := k
	for ve < len(s) && !valueEnd(s[ve]) {
		ve++
	}
	return k, ve
}

// schemes redacts the credentials after an HTTP authentication scheme
// wherever they appear (a header in a script, a JSON snippet): Bearer
// tokens, and Basic credentials that look encoded. The scheme's name is
// matched in any case; the search anchors on its 'b', rarer in text than
// the letters after it.
func (r *redactor) schemes() {
	s := r.s
	for _, b := range [...]byte{'b', 'B'} {
		for from := 0; from < len(s); {
			i := strings.IndexByte(s[from:], b)
			if i < 0 {
				break
			}
			i += from
			from = i + 1
			if i > 0 && alnum(s[i-1]) {
				continue
			}
			var basic bool
			switch {
			case len(s)-i > 6 && strings.EqualFold(s[i+1:i+6], "earer"):
				from = i + 6
			case len(s)-i > 5 && strings.EqualFold(s[i+1:i+5], "asic"):
				from, basic = i+5, true
			default:
				continue
			}
			p := from
			for p < len(s) && (s[p] == ' ' || s[p] == '\t') {
				p++
			}
			if p == from {
				continue
			}
			e := p
			for e < len(s) && token68(s[e]) {
				e++
			}
			if basic && !encoded(s[p:e]) {
				continue
			}
			r.add(p, e)
			from = max(from, e)
		}
	}
}

// certFile reports whether name is a certificate file by its extension.
func certFile(name string) bool {
	for _, ext := range [...]string{".pem", ".crt", ".cer", ".p12", ".pfx", ".key", ".der"} {
		if len(name) > len(ext) && strings.EqualFold(name[len(name)-len(ext):], ext) {
			return true
		}
	}
	return false
}

// encoded reports whether t looks like base64 credentials rather than a
// word ("Basic auth").
func encoded(t string) bool {
	if len(t) < 8 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; ('0' <= c && c <= '9') || c == '+' || c == '/' || c == '=' {
			return true
		}
	}
	return false
}

// SensitiveName reports whether a name (a label key, a query parameter,
// an environment variable) says its value is a credential, by the same
// rules String applies to option and parameter names: case, dashes and
// underscores are ignored, and names containing pass, secret, token, auth,
// credential, … or ending in key count.
func SensitiveName(name string) bool { return sensitive(name) }

// sensitive reports whether an option, parameter or variable name says
// its value is a credential. Case, dashes and underscores are ignored:
// api_key, apiKey, X-Api-Key and API-KEY are all one name.
func sensitive(name string) bool {
	var buf [maxName]byte
	n := 0
	for i := 0; i < len(name) && n < len(buf); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		default:
			continue
		}
		buf[n] = c
		n++
	}
	b := string(buf[:n]) // does not escape: no allocation
	for i := 0; i < len(b); i++ {
		rest := b[i:]
		switch b[i] {
		case 'p':
			if strings.HasPrefix(rest, "pass") {
				return true
			}
		case 's':
			if strings.HasPrefix(rest, "secret") || strings.HasPrefix(rest, "session") || strings.HasPrefix(rest, "signature") {
				return true
			}
		case 't':
			if strings.HasPrefix(rest, "token") {
				return true
			}
		case 'a':
			if strings.HasPrefix(rest, "auth") || strings.HasPrefix(rest, "apikey") {
				return true
			}
		case 'c':
			if strings.HasPrefix(rest, "credential") || strings.HasPrefix(rest, "cookie") {
				return true
			}
		case 'j':
			if strings.HasPrefix(rest, "jwt") {
				return true
			}
		}
	}
	return strings.HasSuffix(b, "key") || strings.HasSuffix(b, "sig") || b == "pw" || b == "pwd"
}

// quoteAt reports whether a quote opens at i: a quote character, or one
// escaped with a backslash (a quoted string inside a quoted string, as %q
// and JSON render it). n is how many bytes open it.
func quoteAt(s string, i int) (q byte, esc bool, n int) {
	switch {
	case i < len(s) && isQuote(s[i]):
		return s[i], false, 1
	case i+1 < len(s) && s[i] == '\\' && isQuote(s[i+1]):
		return s[i+1], true, 2
	}
	return 0, false, 0
}

// closeQuote is where the string opened by quote q ends, starting at i: its
// closing quote (escaped, when it was opened escaped), else the end of the
// line: a secret is never left open.
func closeQuote(s string, i int, q byte, esc bool) int {
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\n':
			return j
		case q:
			switch {
			case esc && s[j-1] == '\\':
				return j - 1
			case !esc && (j == i || s[j-1] != '\\'):
				return j
			}
		}
	}
	return len(s)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// nameChar is a byte of an option, parameter or variable name.
func nameChar(c byte) bool { return alnum(c) || c == '-' || c == '_' || c == '.' }

// wordStart is a byte after which an option starts a word.
func wordStart(c byte) bool {
	return isSpace(c) || isQuote(c) || c == '\\' || c == ',' || c == '[' || c == '(' || c == '{' || c == ';' || c == '|' || c == '&'
}

// nameStart is a byte after which a name=value starts: a word start, or a
// URL query's separators.
func nameStart(c byte) bool { return wordStart(c) || c == '?' || c == '$' }

// separator is a byte between an option and its value.
func separator(c byte) bool {
	return c == ' ' || c == '\t' || c == ',' || isQuote(c) || c == '\\'
}

// valueEnd is a byte that ends an unquoted value.
func valueEnd(c byte) bool { return isSpace(c) || isQuote(c) || c == '\\' }

// userinfoEnd is a byte that cannot be in the userinfo before an '@'.
func userinfoEnd(c byte) bool {
	return isSpace(c) || isQuote(c) || c == '\\' || c == '/' || c == '?' || c == '#'
}

// token68 is a byte of an HTTP authentication token (RFC 7235).
func token68(c byte) bool {
	return alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
}

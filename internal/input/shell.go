package input

import (
	"io"
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// builtins are commands a shell runs itself (POSIX special and regular
// builtins of dash, ash and bash, and the words bash treats as such): a
// simple command that starts with one needs no program from the image.
var builtins = map[string]bool{
	"[": true, "[[": true, ":": true, ".": true, "exit": true, "return": true, "true": true,
	"false": true, "test": true, "echo": true, "printf": true, "cd": true, "pwd": true,
	"export": true, "readonly": true, "set": true, "unset": true, "read": true, "local": true,
	"declare": true, "typeset": true, "let": true, "eval": true, "source": true, "trap": true,
	"wait": true, "kill": true, "break": true, "continue": true, "shift": true, "times": true,
	"umask": true, "alias": true, "unalias": true, "getopts": true, "hash": true, "type": true,
	"ulimit": true, "jobs": true, "fg": true, "bg": true,
}

// shells are the shells whose -c STRING is read as a command of its own.
var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true}

// maxShellDepth bounds how many `sh -c STRING` are read one inside the
// other; the commands of a deeper one are unknown.
const maxShellDepth = 4

// shellCommands lists the programs a CMD-SHELL healthcheck runs, in order,
// without duplicates, at most MaxCommands of them. The command is parsed
// as /bin/sh reads it (POSIX, then bash for what only bash accepts);
// a command neither parses is unknown: no commands at all.
//
// Every simple command is read, wherever it is (lists, pipelines, braces,
// subshells, if/while/for/case bodies, command substitutions), after quote
// removal. Comments and redirections are not commands, builtins and the
// command's own functions are left out; wrappers (exec, command, time,
// timeout, env, nice, nohup) are looked through, the programs among them
// listed after their command; `command -v` runs nothing; the STRING of
// `sh -c STRING` is read in turn. `busybox APPLET` lists busybox only. A program that cannot be known before the command runs
// (`$CHECK`, `$(which curl)`, a glob) is left out rather than guessed, so
// rules never deny on a misreading.
func shellCommands(cmd string) []string {
	var r cmdReader
	r.read(cmd, 0, false)
	return r.progs
}

// shellCommandsPrefix is shellCommands of a command cut short (the first
// MaxParsedBytes of a longer one): the programs of the complete commands.
// Top-level commands are read one at a time as the shell reads them, up to
// where the cut makes the rest unparsable, and a simple command that
// reaches the cut is left out: a cut /usr/bin/curl must not read as a
// missing /usr/bin/cu.
func shellCommandsPrefix(prefix string) []string {
	var r cmdReader
	r.read(prefix, 0, true)
	return r.progs
}

// cmdReader collects the programs of one healthcheck command.
type cmdReader struct {
	progs []string
	seen  map[string]bool
	funcs map[string]bool // functions the command declares
}

func (r *cmdReader) full() bool { return len(r.progs) >= MaxCommands }

func (r *cmdReader) add(prog string) {
	if r.full() || r.seen[prog] || r.funcs[prog] {
		return
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[prog] = true
	r.progs = append(r.progs, prog)
}

// read parses src and collects its programs. A complete src (prefix false)
// is parsed as POSIX sh, then as bash if that fails; one that neither
// parses adds nothing. A prefix is read statement by statement, as the
// shell itself reads it, until the parse error the cut makes or
// MaxCommands; a simple command that reaches the cut is left out.
func (r *cmdReader) read(src string, depth int, prefix bool) {
	if r.progs == nil {
		r.progs = []string{}
	}
	if tooNested(src) {
		return
	}
	for _, lang := range []syntax.LangVariant{syntax.LangPOSIX, syntax.LangBash} {
		p := syntax.NewParser(syntax.Variant(lang))
		if !prefix {
			if f, err := p.Parse(strings.NewReader(src), ""); err == nil {
				for _, st := range f.Stmts {
					r.walk(st, depth, -1)
				}
				return
			}
			continue
		}
		// The loop never breaks: StmtsSeq (v3.14.1) yields its error
		// again after a loop that stopped on one, which panics. Once
		// MaxCommands are listed, the reader ends the input instead.
		cut := len(strings.TrimRight(src, " \t"))
		failed := false
		in := &stopReader{r: strings.NewReader(src), stop: r.full}
		for st, err := range p.StmtsSeq(in) {
			switch {
			case err != nil:
				failed = true
			case !failed && !r.full():
				r.walk(st, depth, cut)
			}
		}
		if !failed || r.full() {
			return
		}
	}
}

// maxOpenings bounds the constructs one command may open (parentheses,
// braces, backquotes, if/case/while/until/for/select): the parser and
// the walk recurse once per level, and 16 KiB of "(" or "if " would cost
// thousands of levels. A command with more is unknown. It counts them all,
// not their depth, so no closing word can hide an opening one.
const maxOpenings = 256

// tooNested reports whether src opens more than maxOpenings constructs,
// quoted or not (an over-count only makes a command unknown).
func tooNested(src string) bool {
	n, start := 0, 0
	for i := 0; i <= len(src); i++ {
		c := byte(' ')
		if i < len(src) {
			c = src[i]
		}
		if strings.IndexByte(" \t\n;&|()<>{}`'\"", c) < 0 {
			continue
		}
		switch src[start:i] {
		case "if", "case", "while", "until", "for", "select":
			n++
		}
		start = i + 1
		if c == '(' || c == '{' || c == '`' {
			n++
		}
		if n > maxOpenings {
			return true
		}
	}
	return false
}

// stopReader reads r until stop returns true, then ends.
type stopReader struct {
	r    io.Reader
	stop func() bool
}

func (s *stopReader) Read(p []byte) (int, error) {
	if s.stop() {
		return 0, io.EOF
	}
	return s.r.Read(p)
}

// walk adds the programs of the simple commands in st; those ending at
// cut or beyond (cut >= 0) may be cut short and are left out.
func (r *cmdReader) walk(st *syntax.Stmt, depth, cut int) {
	syntax.Walk(st, func(n syntax.Node) bool {
		if r.full() {
			return false
		}
		switch n := n.(type) {
		case *syntax.FuncDecl:
			if n.Name == nil {
				return true
			}
			if r.funcs == nil {
				r.funcs = map[string]bool{}
			}
			r.funcs[n.Name.Value] = true
		case *syntax.CallExpr:
			if len(n.Args) == 0 {
				return true // assignments only
			}
			if cut >= 0 && int(n.End().Offset()) >= cut {
				// Its words may be cut; its command substitutions,
				// walked below, are complete when they end before.
				return true
			}
			r.call(n.Args, depth)
		}
		return true
	})
}

// call adds the program of one simple command (its words; assignments
// before them apply to it and are no program), looking through wrappers:
// the command they run first, then the wrappers as written, so a rule that
// names the first missing program names the probe (curl) rather than the
// timeout around it when both are missing.
func (r *cmdReader) call(args []*syntax.Word, depth int) {
	var wrappers []string
	defer func() {
		for _, w := range wrappers {
			r.add(w)
		}
	}()
	for len(args) > 0 {
		prog, ok := wordLit(args[0])
		if !ok || !isProgramName(prog) {
			return // unknown before it runs
		}
		if builtins[prog] || r.funcs[prog] {
			return
		}
		rest := args[1:]
		switch prog {
		case "exec":
			// bash: exec [-cl] [-a name] cmd
			args = skipOptions(rest, map[string]bool{"-a": true})
			continue
		case "command":
			// command [-p] cmd; -v and -V only describe cmd.
			i := 0
			for ; i < len(rest); i++ {
				w, ok := wordLit(rest[i])
				if !ok {
					return
				}
				if w == "--" {
					i++
					break
				}
				if !strings.HasPrefix(w, "-") || w == "-" {
					break
				}
				if strings.ContainsAny(w[1:], "vV") {
					return
				}
			}
			args = rest[i:]
			continue
		case "time":
			// A bash keyword (a program in dash): looked through.
			args = skipOptions(rest, map[string]bool{"-f": true, "-o": true, "--format": true, "--output": true})
			continue
		}
		switch base := path.Base(prog); {
		case base == "timeout":
			wrappers = append(wrappers, prog)
			// timeout [-s SIG] [-k DUR] [--foreground …] DURATION cmd;
			// old busybox: timeout [-t SECS] [-s SIG] cmd.
			var seconds bool
			args, seconds = timeoutArgs(rest)
			if !seconds && len(args) > 0 {
				args = args[1:] // DURATION
			}
		case base == "env":
			wrappers = append(wrappers, prog)
			args = envArgs(rest)
		case base == "nice":
			wrappers = append(wrappers, prog)
			args = skipOptions(rest, map[string]bool{"-n": true})
		case base == "nohup":
			wrappers = append(wrappers, prog)
			args = skipOptions(rest, nil)
		case shells[base]:
			// The shell's commands, then the shell, as for wrappers.
			wrappers = append(wrappers, prog)
			if s, ok := shellString(rest); ok && depth+1 < maxShellDepth {
				r.read(s, depth+1, false)
			}
			return
		default:
			// The program. busybox APPLET runs the applet if busybox has
			// it, which the file index cannot tell: busybox alone is
			// listed.
			r.add(prog)
			return
		}
	}
}

// skipOptions drops leading options ("-x", "--long", "--long=v"); those in
// withValue take the next word as their value. Ends at "--" (dropped) or
// the first other word.
func skipOptions(args []*syntax.Word, withValue map[string]bool) []*syntax.Word {
	for len(args) > 0 {
		w, ok := wordLit(args[0])
		if !ok {
			return nil
		}
		if w == "--" {
			return args[1:]
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			return args
		}
		args = args[1:]
		if withValue[w] && len(args) > 0 {
			args = args[1:]
		}
	}
	return args
}

// timeoutArgs drops timeout's options; seconds is true when -t gave the
// duration (old busybox), so no DURATION word follows.
func timeoutArgs(args []*syntax.Word) (rest []*syntax.Word, seconds bool) {
	for len(args) > 0 {
		w, ok := wordLit(args[0])
		if !ok {
			return nil, false
		}
		if w == "--" {
			return args[1:], seconds
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			return args, seconds
		}
		args = args[1:]
		switch w {
		case "-t":
			seconds = true
			fallthrough
		case "-s", "-k", "--signal", "--kill-after":
			if len(args) > 0 {
				args = args[1:]
			}
		}
	}
	return args, seconds
}

// envArgs drops env's options and NAME=value words. -S (split a string)
// makes the command unknown.
func envArgs(args []*syntax.Word) []*syntax.Word {
	for len(args) > 0 {
		w, ok := wordLit(args[0])
		if !ok {
			return nil
		}
		switch {
		case w == "--":
			args = args[1:]
			for len(args) > 0 {
				if w, ok := wordLit(args[0]); !ok || !strings.Contains(w, "=") {
					break
				}
				args = args[1:]
			}
			return args
		case w == "-S" || strings.HasPrefix(w, "-S") || strings.HasPrefix(w, "--split-string"):
			return nil
		case w == "-u" || w == "-C" || w == "--unset" || w == "--chdir":
			args = args[1:]
			if len(args) > 0 {
				args = args[1:]
			}
		case strings.HasPrefix(w, "-") || strings.Contains(w, "="):
			args = args[1:]
		default:
			return args
		}
	}
	return args
}

// shellString returns STRING of `sh [options] -c STRING …`, if the shell
// is given one: options before it may be grouped (-ec) and -o/+o take a
// value.
func shellString(args []*syntax.Word) (string, bool) {
	hasC := false
	for len(args) > 0 {
		w, ok := wordLit(args[0])
		if !ok {
			return "", false
		}
		if w == "--" || w == "-" {
			args = args[1:]
			break
		}
		if len(w) < 2 || (w[0] != '-' && w[0] != '+') {
			break
		}
		args = args[1:]
		if strings.HasPrefix(w, "--") {
			continue // --norc, --posix, …
		}
		if w[0] == '-' && strings.ContainsRune(w[1:], 'c') {
			hasC = true
		}
		if strings.ContainsRune(w[1:], 'o') && len(args) > 0 {
			args = args[1:]
		}
	}
	if !hasC || len(args) == 0 {
		return "", false
	}
	return wordLit(args[0])
}

// wordLit is a word after quote removal, when it is a plain literal: ok is
// false when it expands (parameters, command substitution, arithmetic,
// globs, a leading ~) to something only known when the command runs.
func wordLit(w *syntax.Word) (string, bool) {
	if len(w.Parts) == 1 {
		if l, ok := w.Parts[0].(*syntax.Lit); ok && !strings.ContainsAny(l.Value, `\*?[~`) {
			return l.Value, true // the usual case: nothing to remove
		}
	}
	var b strings.Builder
	for i, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			if i == 0 && strings.HasPrefix(p.Value, "~") {
				return "", false
			}
			if !unescape(&b, p.Value) {
				return "", false
			}
		case *syntax.SglQuoted:
			if p.Dollar && strings.Contains(p.Value, `\`) {
				return "", false // $'…' escapes
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			if p.Dollar {
				return "", false // $"…" translation
			}
			for _, dp := range p.Parts {
				l, ok := dp.(*syntax.Lit)
				if !ok {
					return "", false
				}
				unescapeDouble(&b, l.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// unescape writes an unquoted literal without its backslashes; false when
// it holds an unescaped glob character.
func unescape(b *strings.Builder, s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '*', '?', '[':
			return false
		default:
			b.WriteByte(c)
		}
	}
	return true
}

// unescapeDouble writes a literal inside double quotes, where a backslash
// only escapes $, `, ", \ and a newline.
func unescapeDouble(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
			i++
			if s[i] != '\n' {
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(c)
	}
}

// isProgramName reports whether a word can be listed as a program: not
// empty, and nothing a rule or a reader would mistake for shell syntax.
func isProgramName(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < ' ' || c == 0x7f || strings.IndexByte(" ;&|$`\\\"'<>(){}*?[]=", c) >= 0 {
			return false
		}
	}
	return true
}

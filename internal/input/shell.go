package input

import "strings"

// shellKeywords are words a shell handles itself: a command list that starts
// with one needs no program from the image for that word.
var shellKeywords = map[string]bool{
	"!": true, "{": true, "}": true, "(": true, ")": true, "[": true, "[[": true, ":": true, ".": true,
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "for": true, "while": true,
	"until": true, "do": true, "done": true, "case": true, "esac": true, "in": true,
	"exit": true, "return": true, "true": true, "false": true, "test": true, "echo": true,
	"printf": true, "cd": true, "export": true, "set": true, "unset": true, "read": true,
	"local": true, "eval": true, "exec": true, "command": true, "source": true, "trap": true,
	"wait": true, "kill": true,
}

// commandPrefixes are words after which the next word is the command.
var commandPrefixes = map[string]bool{
	"!": true, "if": true, "then": true, "else": true, "elif": true, "while": true,
	"until": true, "do": true, "exec": true, "command": true, "time": true,
}

// shellCommands lists the programs a CMD-SHELL healthcheck runs: the first
// word of each simple command, in order, without duplicates, at most
// MaxCommands of them. It is a deliberately small reading of shell syntax:
// words it cannot know statically (variables, command substitution) are
// left out rather than guessed, so rules never deny on a misreading.
func shellCommands(cmd string) []string {
	segments, ok := splitCommands(cmd)
	if !ok {
		// Unbalanced quotes: the shell itself rejects the command.
		return []string{}
	}
	return firstWords(segments)
}

// shellCommandsPrefix is shellCommands of a command cut short (the first
// MaxParsedBytes of a longer one): the programs of the simple commands
// that end within prefix. The last one may be cut in the middle of a word
// (or of a quote), so it is left out: a cut /usr/bin/curl must not read as
// a missing /usr/bin/cu.
func shellCommandsPrefix(prefix string) []string {
	segments, _ := splitCommands(prefix)
	return firstWords(segments[:len(segments)-1])
}

// firstWords returns the program of each simple command.
func firstWords(segments []string) []string {
	progs := []string{}
	seen := map[string]bool{}
	for _, segment := range segments {
		words := strings.Fields(segment)
		i := 0
		// Leading assignments (FOO=bar cmd) and "exec"/"command" prefixes.
		for i < len(words) && (isAssignment(words[i]) || commandPrefixes[words[i]]) {
			i++
		}
		if i >= len(words) {
			continue
		}
		w := strings.Trim(words[i], `'"`)
		if w == "" || shellKeywords[w] || strings.ContainsAny(w, "$`(){}<>*?[]=;&|\\") {
			continue
		}
		if !seen[w] {
			seen[w] = true
			progs = append(progs, w)
			if len(progs) == MaxCommands {
				break
			}
		}
	}
	return progs
}

// splitCommands cuts a command string at unquoted ;, &, |, newlines and
// parentheses, the separators of simple commands. ok is false when a quote
// is left open.
func splitCommands(cmd string) (parts []string, ok bool) {
	var (
		cur   strings.Builder
		quote rune
	)
	for _, r := range cmd {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote = r
			cur.WriteRune(r)
		case r == ';' || r == '&' || r == '|' || r == '\n' || r == '(' || r == ')':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(parts, cur.String()), quote == 0
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

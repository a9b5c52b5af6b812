package catalog

import (
	"path"
	"regexp"
	"slices"
	"strings"
)

// The distributions whose packages the definitions name.
const (
	Debian = "debian"
	Alpine = "alpine"
	Wolfi  = "wolfi"
)

// PackageSet is what a definition says the image is made of.
type PackageSet struct {
	// Distro is Debian, Alpine or Wolfi: the same package name installs
	// different files on each (Alpine's busybox has no /bin/sh link).
	Distro string
	// Packages are package names without versions; exclusions removed.
	Packages []string
	// Complete means no package that could install one of the tracked
	// programs is missing from Packages: a tracked program none of them
	// provides is absent. Chainguard's locked configurations list every
	// package; see ReadDHI for Docker Hardened Images.
	Complete bool
	// Extra are paths the definition adds outside packages (build outputs,
	// downloaded files, paths): a program of that name, or anything in a
	// bin directory, may come from them.
	Extra []Extra
}

// Extra is a path a definition adds outside its packages.
type Extra struct {
	Path string
	// Build is the text of the build that outputs Path ("" for a file or a
	// path entry) without its package list, and BuildPackages the packages
	// the build installs. A build's output holds what its packages,
	// artifacts, files and scripts put there: a program (or a package
	// providing it) that the text names, or one its packages may provide.
	// Under /usr/local, where no distribution package installs, only what
	// the text names.
	Build         string
	BuildPackages []string
	distro        string // set by decide
}

// Tracked are the programs the catalog states presence or absence of, by
// basename. "sh" is the name on PATH; /bin/sh is Facts.Shell.
var Tracked = []string{"sh", "bash", "dash", "busybox", "curl", "wget", "nc", "sleep", "cat", "ls", "head", "tail"}

// providers says, per distribution, which packages certainly install a
// tracked program ("sure") and which may ("maybe": the file may be a link
// made by an install script, or depend on a build configuration). Only a
// sure provider makes a program present; a maybe provider keeps it
// unknown.
type providers struct {
	sure, maybe []string // package names; a trailing "*" is a prefix
}

// coreutilsLike may install the coreutils programs: toybox, uutils, and
// subpackages such as Alpine's coreutils-env (env only).
var coreutilsLike = []string{"coreutils-*", "toybox", "uutils*", "rust-coreutils*", "busybox-*"}

// otherShells may provide /bin/sh or sh, as a link made by an install script
// or by an administrator's choice of alternative.
var otherShells = []string{"bash", "dash", "mksh", "zsh", "yash", "toybox", "busybox-*", "*-binsh"}

func providersOf(distro, program string) providers {
	busyboxSure := distro == Wolfi // Wolfi's busybox package links every applet (busybox --install -s), apko does the same
	switch program {
	case "sh":
		switch distro {
		case Wolfi:
			return providers{sure: []string{"busybox", "*-binsh"}, maybe: otherShells}
		case Alpine:
			// /bin/sh is busybox-binsh, a package of its own, that
			// packages with install scripts pull in as a dependency.
			return providers{sure: []string{"*-binsh"}, maybe: append([]string{"busybox"}, otherShells...)}
		}
		// Debian: /bin/sh is dash's, set up by its maintainer scripts.
		return providers{maybe: append([]string{"busybox"}, otherShells...)}
	case "bash", "dash":
		return providers{sure: []string{program}}
	case "busybox":
		return providers{sure: []string{"busybox", "busybox-static", "busybox-full"}}
	case "curl":
		return providers{sure: []string{"curl"}, maybe: []string{"curl-*"}}
	case "wget":
		return providers{sure: []string{"wget"}, maybe: []string{"busybox", "busybox-*", "toybox", "wget2", "wget-*"}}
	case "nc":
		var sure []string
		if distro != Debian { // Debian's nc is an alternatives link
			sure = []string{"netcat-openbsd"}
		}
		return providers{sure: sure, maybe: []string{"netcat-*", "nmap-ncat", "ncat", "busybox", "busybox-*", "toybox"}}
	case "sleep", "cat", "ls", "head", "tail":
		if busyboxSure {
			return providers{sure: []string{"coreutils", "busybox"}, maybe: coreutilsLike}
		}
		return providers{sure: []string{"coreutils"}, maybe: append([]string{"busybox"}, coreutilsLike...)}
	}
	return providers{}
}

// binDirs are directories on every default PATH: a build output there (or
// above) may hold any program.
var binDirs = []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}

// readiness maps packages that certainly install a readiness probe to it.
var readiness = []struct {
	distro, pkg, program string
}{
	{Debian, "redis-tools", "redis-cli"},
	{Alpine, "redis", "redis-cli"},
	{Wolfi, "redis-cli-*", "redis-cli"},
	{Wolfi, "valkey-*-cli", "valkey-cli"},
	{Debian, "postgresql-client", "pg_isready"},
	{Debian, "postgresql-client", "psql"},
	{Debian, "mongodb-mongosh", "mongosh"},
	{Debian, "mongosh", "mongosh"},
	{Wolfi, "mongosh", "mongosh"},
}

var (
	nodePackage   = regexp.MustCompile(`^nodejs(-[0-9]+)?$`)
	pythonPackage = regexp.MustCompile(`^python-?3(\.[0-9]+)?$`)
)

// Programs maps a package set to the facts it grounds: /bin/sh (nil when
// unknown) and the tracked programs (absent when unknown), plus node,
// python3 and readiness probes when a package certainly installs them
// (never false: an interpreter or probe can be installed in too many ways).
func Programs(ps PackageSet) (shell *bool, programs map[string]bool) {
	programs = map[string]bool{}
	for _, p := range Tracked {
		if v, ok := decide(ps, p); ok {
			programs[p] = v
		}
	}
	if v, ok := programs["sh"]; ok {
		// /bin/sh is the shell fact; sh on PATH follows it in the policies
		// (a label or the image's files may say more than the packages).
		shell = &v
		delete(programs, "sh")
	}
	for _, pkg := range ps.Packages {
		if nodePackage.MatchString(pkg) {
			programs["node"] = true
		}
		if pythonPackage.MatchString(pkg) {
			programs["python3"] = true
		}
		for _, r := range readiness {
			if r.distro == ps.Distro && match(r.pkg, pkg) {
				programs[r.program] = true
			}
		}
	}
	return shell, programs
}

// decide works out one tracked program: present with a sure provider,
// unknown with a maybe provider or an extra path that may hold it, absent
// when the set is complete, else unknown.
func decide(ps PackageSet, program string) (value, known bool) {
	pr := providersOf(ps.Distro, program)
	if anyMatch(pr.sure, ps.Packages) {
		return true, true
	}
	if anyMatch(pr.maybe, ps.Packages) {
		return false, false
	}
	for _, x := range ps.Extra {
		x.distro = ps.Distro
		if extraMayHold(x, program) {
			return false, false
		}
	}
	if ps.Complete {
		return false, true
	}
	return false, false
}

// extraMayHold reports whether a path the definition adds outside packages
// may be, or contain, program.
func extraMayHold(x Extra, program string) bool {
	p := path.Clean("/" + strings.TrimSpace(x.Path))
	if path.Base(p) == program {
		return true
	}
	covers, outsideLocal := false, false
	for _, d := range binDirs {
		if p == d || p == "/" || strings.HasPrefix(d, p+"/") {
			covers = true
			outsideLocal = outsideLocal || !strings.HasPrefix(d, "/usr/local/")
		}
	}
	switch {
	case !covers:
		return false
	case x.Build == "":
		return true
	case namesWord(x.Build, program):
		return true
	}
	pr := providersOf(x.distro, program)
	for _, pkg := range append(slices.Clone(pr.sure), pr.maybe...) {
		// a build that names a provider (installs or copies bash) may
		// leave the program (/bin/sh) in its output
		if !strings.Contains(pkg, "*") && namesWord(x.Build, pkg) {
			return true
		}
	}
	return outsideLocal && (anyMatch(pr.sure, x.BuildPackages) || anyMatch(pr.maybe, x.BuildPackages))
}

// namesWord reports whether text has word as a whole word.
func namesWord(text, word string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(word)
		if (j == 0 || !wordByte(text[j-1])) && (end == len(text) || !wordByte(text[end])) {
			return true
		}
		i = j + 1
	}
}

func wordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func anyMatch(patterns, pkgs []string) bool {
	return slices.ContainsFunc(pkgs, func(pkg string) bool {
		return slices.ContainsFunc(patterns, func(pat string) bool { return match(pat, pkg) })
	})
}

// match matches a package name against a pattern whose "*" stands for
// any run of characters (at most one "*").
func match(pattern, name string) bool {
	before, after, ok := strings.Cut(pattern, "*")
	if !ok {
		return pattern == name
	}
	return len(name) >= len(before)+len(after) && strings.HasPrefix(name, before) && strings.HasSuffix(name, after)
}

// argvPrograms marks the programs an image runs as present: the
// entrypoint's argv[0], else the cmd's (a script's interpreter is not
// known, so a *.sh runs nothing we can name). Running /bin/sh proves the
// shell.
func argvPrograms(entrypoint, cmd []string, shell **bool, programs map[string]bool) {
	argv := entrypoint
	if len(argv) == 0 {
		argv = cmd
	}
	if len(argv) == 0 {
		return
	}
	a := argv[0]
	base := path.Base(a)
	if base == "" || base == "." || base == "/" || strings.HasSuffix(base, ".sh") {
		return
	}
	programs[base] = true
	if a == "/bin/sh" {
		t := true
		*shell = &t
	}
}

package input

import (
	"path"
	"strings"
)

// Files answers from an image's files. imageindex.Index implements it.
type Files interface {
	// LookPath finds a program as runc would: a name with a slash is taken
	// as a path in the image, any other is searched in the PATH directories.
	// WithIndex only asks it about absolute paths (is it an executable
	// file?): it searches PATH itself, with the working directory and the
	// mounts.
	LookPath(name string, path []string) (found string, ok bool)
	// Resolve follows every symlink of a path from the image root.
	Resolve(path string) (final string, ok bool)
}

// PermFiles is Files that also knows owners and modes: imageindex.Index
// implements it.
type PermFiles interface {
	Files
	// ExecutableBy says whether the container user, as its config
	// writes it ("name", "uid", "name:group", "uid:gid"; "" is root),
	// may execute the program at the absolute path p: execute permission
	// on the file and search permission on every directory on the way.
	// known is false when the user cannot be resolved from the image;
	// who names the user for messages.
	ExecutableBy(p, user string) (ok, known bool, who string)
}

// WithIndex adds what the image's own files say about the programs the
// container will execute: the healthcheck's program (and, in shell form,
// the shell and the commands it runs), the entrypoint or command, and
// /bin/sh, which also sets shell_found. Call it after WithCreate, since lookups use the
// container's effective PATH. These facts win over labels and the catalog.
func (d Document) WithIndex(files Files) Document {
	c, img := d.Container, *d.Image
	img.Programs = map[string]ProgramFact{}
	lk := newLooker(files, c)
	add := func(name string) {
		if name == "" {
			return
		}
		if _, done := img.Programs[name]; done {
			return
		}
		img.Programs[name] = lk.look(name)
	}
	h := c.Healthcheck
	switch h.Form {
	case FormCmd:
		add(h.Program)
	case FormShell:
		add(h.Program)
		for _, cmd := range h.Commands {
			add(cmd)
		}
	}
	if len(c.Entrypoint) > 0 {
		add(c.Entrypoint[0])
	} else if len(c.Command) > 0 {
		add(c.Command[0])
	}
	add("/bin/sh")
	if shf := img.Programs["/bin/sh"]; !shf.Unknown {
		sh := shf.Found
		img.ShellFound = &sh
	}
	img.Source = SourceIndex
	img.Error = ""
	d.Image = &img
	return d
}

// looker finds programs as the container's exec finds them: runc's init
// chdirs to the working directory, then calls Go's exec.LookPath with the
// process's PATH (libcontainer standard_init_linux.go and
// setns_init_linux.go; prepareEnv sets PATH only when the process has
// one), and execve resolves the path in the container's mount namespace.
type looker struct {
	files Files
	dirs  []string
	wd    string
	user  string
	// perm is false when the user's groups are not all known.
	perm bool
	// mounts maps each mount's target, resolved in the image as runc
	// mounts it, to the mount as the request names it.
	mounts map[string]Mount
}

func newLooker(files Files, c *Container) *looker {
	wd := c.WorkingDir
	if wd == "" {
		wd = "/"
	}
	lk := &looker{files: files, dirs: c.Path, wd: wd, user: c.User, perm: !c.groupAdd, mounts: map[string]Mount{}}
	for _, m := range c.Mounts {
		// runc resolves a mount's destination inside the rootfs
		// (securejoin), so a target under a symlink lands where it points.
		// dockerd refuses two mounts on one target.
		lk.mounts[lk.resolvePrefix(m.Target)] = m
	}
	return lk
}

// look finds name. A name with a "/" is one path, from the working
// directory unless absolute. Any other is searched in PATH in order; a
// directory that is not absolute (".", "bin") is taken from the working
// directory and, when it holds the program, ends the search with an error,
// as exec.LookPath does since Go 1.19 (ErrDot), which runc does not
// ignore. A candidate under a tmpfs mount does not exist (the tmpfs starts
// empty); one under any other mount (bind, volume, ...) cannot be known,
// and ends the lookup as Unknown.
func (lk *looker) look(name string) ProgramFact {
	if strings.Contains(name, "/") {
		p := name
		if !path.IsAbs(p) {
			p = path.Join(lk.wd, p)
		}
		return lk.candidate(path.Clean(p), "")
	}
	hiddenBy := ""
	var denied *ProgramFact
	for _, d := range lk.dirs {
		var p, rel string
		if path.IsAbs(d) {
			p = path.Join(d, name)
		} else {
			p, rel = path.Join(lk.wd, d, name), path.Join(d, name)
		}
		f := lk.candidate(p, rel)
		if f.Found || f.Unknown || f.Relative {
			return f
		}
		if f.NotExecutableBy != "" && denied == nil {
			// Go's exec.LookPath, since it checks with eaccess, goes on
			// to the next directory; an older one would stop here and
			// execve would fail. Either way a later match decides.
			denied = &f
		}
		if hiddenBy == "" {
			hiddenBy = f.HiddenBy
		}
	}
	if denied != nil {
		return *denied
	}
	return ProgramFact{HiddenBy: hiddenBy}
}

// candidate checks one absolute path p; rel is the relative path
// exec.LookPath would return for it, "" when it came from an absolute
// directory or a name with a "/".
func (lk *looker) candidate(p, rel string) ProgramFact {
	m, covered := lk.mountAt(p)
	if covered && m.Type != MountTmpfs {
		return ProgramFact{Unknown: true, HiddenBy: m.Target}
	}
	if _, ok := lk.files.LookPath(p, nil); !ok {
		return ProgramFact{}
	}
	if covered {
		// The image has it, but the tmpfs over it is empty.
		return ProgramFact{HiddenBy: m.Target}
	}
	if rel != "" {
		return ProgramFact{Path: rel, Relative: true}
	}
	resolved, _ := lk.files.Resolve(p)
	if pf, ok := lk.files.(PermFiles); ok && lk.perm {
		if can, known, who := pf.ExecutableBy(p, lk.user); known && !can {
			return ProgramFact{Path: p, Resolved: resolved, NotExecutableBy: who}
		}
	}
	return ProgramFact{Found: true, Path: p, Resolved: resolved}
}

// mountAt returns the mount (as the request names it) whose target covers
// p, as written or with the image's symlinks followed; the deepest one,
// since dockerd mounts parents first. It reads symlinks from the image
// only, so a symlink inside a mount is not followed.
func (lk *looker) mountAt(p string) (Mount, bool) {
	if len(lk.mounts) == 0 {
		return Mount{}, false
	}
	for _, q := range []string{p, lk.resolvePrefix(p)} {
		// The first target found going up from q is the deepest: a map
		// lookup per component, however many mounts the request has.
		for d := q; ; d = path.Dir(d) {
			if m, ok := lk.mounts[d]; ok {
				return m, true
			}
			if d == "/" {
				break
			}
		}
	}
	return Mount{}, false
}

// resolvePrefix follows the image's symlinks through the longest leading
// part of the absolute path p that exists in the image, and appends the
// rest unchanged.
func (lk *looker) resolvePrefix(p string) string {
	p = path.Clean(p)
	rest := ""
	for q := p; ; q = path.Dir(q) {
		if r, ok := lk.files.Resolve(q); ok {
			return path.Join(r, rest)
		}
		if q == "/" {
			return p
		}
		rest = path.Join(path.Base(q), rest)
	}
}

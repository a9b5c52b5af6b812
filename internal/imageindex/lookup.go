package imageindex

import (
	"path"
	"strings"
)

// maxSymlinks is the kernel's limit on symlinks followed in one lookup
// (MAXSYMLINKS); beyond it open and execve fail with ELOOP.
const maxSymlinks = 40

// walk resolves p from the image root the way the kernel's path lookup
// does: symlinks are followed in every component (and in the last one when
// followFinal), absolute targets restart at the image root, relative ones
// continue from the link's directory, ".." is taken on the resolved
// directory and stops at the root, and more than maxSymlinks links fail as
// ELOOP would. A trailing slash or "." demands a directory.
func (ix *Index) walk(p string, followFinal bool) (string, uint32, bool) {
	return walkIn[uint32](ix.f, p, followFinal, nil)
}

// walkIn is walk on any view of a tree: an Index's, or the one Build
// stacks layers on. search, when not nil, is asked about every directory a
// component is looked up in (".", ".." and the directories a symlink's
// target passes included), as the kernel checks search permission on it;
// a false answer fails the walk.
func walkIn[H any, V view[H]](v V, p string, followFinal bool, search func(H) bool) (string, H, bool) {
	var none H
	names := make([]string, 0, 8)
	nodes := append(make([]H, 0, 8), v.rootOf())
	rest := p
	links := 0
	for rest != "" {
		var c string
		if rest[0] == '/' {
			rest = strings.TrimLeft(rest, "/")
			if rest == "" {
				c = "."
			} else {
				continue
			}
		} else if i := strings.IndexByte(rest, '/'); i < 0 {
			c, rest = rest, ""
		} else {
			c, rest = rest[:i], rest[i:]
		}
		dir := nodes[len(nodes)-1]
		if v.typeOf(dir) != TypeDir {
			return "", none, false
		}
		if search != nil && !search(dir) {
			return "", none, false
		}
		switch c {
		case ".":
			continue
		case "..":
			if len(names) > 0 {
				names = names[:len(names)-1]
				nodes = nodes[:len(nodes)-1]
			}
			continue
		}
		ch, ok := v.child(dir, c)
		if !ok {
			return "", none, false
		}
		if v.typeOf(ch) == TypeSymlink && (followFinal || rest != "") {
			links++
			link := v.linkOf(ch)
			if links > maxSymlinks || link == "" {
				return "", none, false
			}
			if link[0] == '/' {
				names = names[:0]
				nodes = nodes[:1]
			}
			rest = link + rest
			continue
		}
		names = append(names, c)
		nodes = append(nodes, ch)
	}
	return "/" + strings.Join(names, "/"), nodes[len(nodes)-1], true
}

// Resolve follows p from the image root as the kernel would inside the
// container and returns the path of the file it ends at, which is not a
// symlink. Relative paths start at the root. ok is false when p does not
// exist, ends at a dangling link, loops (more than 40 links) or walks
// through a non-directory.
func (ix *Index) Resolve(p string) (final string, ok bool) {
	final, _, ok = ix.walk(p, true)
	return final, ok
}

// Lstat returns the entry at p without following a symlink in the last
// component (the others are followed), as lstat(2) does.
func (ix *Index) Lstat(p string) (Entry, bool) {
	_, n, ok := ix.walk(p, false)
	if !ok {
		return Entry{}, false
	}
	return ix.f.entry(n), true
}

// Stat returns the entry p resolves to, following every symlink, as
// stat(2) does; it is never a symlink.
func (ix *Index) Stat(p string) (Entry, bool) {
	_, n, ok := ix.walk(p, true)
	if !ok {
		return Entry{}, false
	}
	return ix.f.entry(n), true
}

// LookPath finds the program a container would run for name, as runc does
// with Go's exec.LookPath inside the container: a name containing "/" is
// taken as a path (relative names from "/", the default working directory),
// any other is searched in the dirs of PATH in order (empty and relative
// dirs also from "/"). The candidate must resolve to a regular file or
// hardlink with an execute bit, which is what execve needs as root. found is
// the path as exec would be given it, before symlinks are resolved.
func (ix *Index) LookPath(name string, dirs []string) (found string, ok bool) {
	if name == "" {
		return "", false
	}
	if strings.Contains(name, "/") {
		p := path.Join("/", name)
		if ix.executable(p) {
			return p, true
		}
		return "", false
	}
	for _, d := range dirs {
		p := path.Join("/", d, name)
		if ix.executable(p) {
			return p, true
		}
	}
	return "", false
}

func (ix *Index) executable(p string) bool {
	_, i, ok := ix.walk(p, true)
	if !ok {
		return false
	}
	n := &ix.f.nodes[i]
	return (n.typ == TypeRegular || n.typ == TypeHardlink) && n.mode&0o111 != 0
}

package imageindex

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// maxAccountFile bounds the body Build keeps of /etc/passwd and of
// /etc/group; real ones are a few kilobytes. A larger one leaves user and
// group names unknown.
const maxAccountFile = 64 << 10

// accountFiles are the only files whose bodies Build reads: runc resolves
// the container's user with them.
var accountFiles = map[string]bool{"/etc/passwd": true, "/etc/group": true}

// Accounts is what Build read of the image's /etc/passwd and /etc/group,
// as the merged tree holds them (symlinks followed, whiteouts applied).
type Accounts struct {
	// Passwd and Group are the files' bodies; nil when the image has no
	// such file.
	Passwd []byte `json:"passwd,omitempty"`
	Group  []byte `json:"group,omitempty"`
	// Unknown is set when either file exists but its body was not read:
	// larger than 64 KiB, not a regular file, or reached through a link
	// to another file. Names cannot be resolved then.
	Unknown bool `json:"unknown,omitempty"`
}

// accounts reads the account files out of the merged tree.
func (t *tree) accounts() Accounts {
	var a Accounts
	for _, p := range []string{"/etc/passwd", "/etc/group"} {
		_, n, ok := walkIn[*node](t, p, true, nil)
		if !ok {
			continue // absent (or a dangling link): no entries
		}
		if n.Type != TypeRegular || n.data == nil {
			a.Unknown = true
			continue
		}
		if p == "/etc/passwd" {
			a.Passwd = n.data
		} else {
			a.Group = n.data
		}
	}
	return a
}

// Cred is the identity a container's process runs as: what the kernel
// checks file permissions against.
type Cred struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups
}

func (c Cred) String() string { return "uid " + strconv.FormatUint(uint64(c.UID), 10) }

func (c Cred) inGroup(gid uint32) bool {
	if gid == c.GID {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// may reports whether c has the execute (search, for a directory)
// permission on n, as generic_permission does: root (CAP_DAC_OVERRIDE,
// CAP_DAC_READ_SEARCH) searches any directory and executes a file with
// any execute bit; anyone else gets the owner's bits when the uid matches,
// else the group's when the gid is one of theirs, else the others'.
func (c Cred) may(n *fnode) bool {
	m := n.mode
	switch {
	case c.UID == 0:
		return n.typ == TypeDir || m&0o111 != 0
	case n.uid == c.UID:
		return m&0o100 != 0
	case c.inGroup(n.gid):
		return m&0o010 != 0
	}
	return m&0o001 != 0
}

// maxID is the largest uid or gid runc accepts in a user string.
const maxID = 1<<31 - 1

// Cred resolves a container's user as runc does (libcontainer/user
// GetExecUser, with dockerd's default of uid 0, gid 0): "name", "uid",
// "name:group" or "uid:gid". A user found in /etc/passwd (by name, or by
// uid for a numeric one) takes its primary group from there, and without
// an explicit group also the supplementary groups /etc/group lists it in;
// a numeric user not in /etc/passwd has gid 0 and no supplementary groups;
// an explicit group replaces the primary one. ok is false when the answer
// depends on what the index does not know (an account file it could not
// read) or the user cannot be resolved at all (a name with no entry, which
// runc refuses to start).
func (ix *Index) Cred(user string) (Cred, bool) {
	userArg, groupArg, hasGroup := strings.Cut(user, ":")
	var c Cred
	matched := ""
	uidNum, uidErr := parseID(userArg)
	gidNum, gidErr := parseID(groupArg)
	needPasswd := userArg != "" && (uidErr != nil || !hasGroup || gidErr != nil)
	if needPasswd && ix.accounts.Unknown {
		return Cred{}, false
	}
	if userArg != "" {
		found := false
		for _, e := range parseAccounts(ix.accounts.Passwd, 7) {
			uid, err1 := parseID(e[2])
			gid, err2 := parseID(e[3])
			if err1 != nil || err2 != nil {
				continue
			}
			if e[0] == userArg || strconv.FormatUint(uint64(uid), 10) == userArg {
				c.UID, c.GID, matched, found = uid, gid, e[0], true
				break
			}
		}
		if !found {
			if uidErr != nil {
				return Cred{}, false
			}
			c.UID = uidNum
		}
	}
	if hasGroup || matched != "" {
		if (!hasGroup || gidErr != nil) && ix.accounts.Unknown {
			return Cred{}, false
		}
		var groups []uint32
		for _, e := range parseAccounts(ix.accounts.Group, 4) {
			gid, err := parseID(e[2])
			if err != nil {
				continue
			}
			if hasGroup {
				if e[0] == groupArg || strconv.FormatUint(uint64(gid), 10) == groupArg {
					groups = append(groups, gid)
				}
				continue
			}
			for _, m := range strings.Split(e[3], ",") {
				if m == matched {
					groups = append(groups, gid)
					break
				}
			}
		}
		switch {
		case hasGroup && len(groups) > 0:
			c.GID = groups[0]
		case hasGroup && gidErr == nil:
			c.GID = gidNum
		case hasGroup:
			return Cred{}, false
		default:
			c.Groups = groups
		}
	}
	return c, true
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > maxID {
		return 0, fmt.Errorf("id %d out of range", n)
	}
	return uint32(n), nil
}

// parseAccounts splits the lines of a passwd or group file into at least
// fields colon-separated fields each, skipping comments and blank lines as
// libcontainer/user does.
func parseAccounts(data []byte, fields int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxAccountFile+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, ":")
		for len(parts) < fields {
			parts = append(parts, "")
		}
		out = append(out, parts)
	}
	return out
}

// CanExecute reports whether a process running as c may execve p: every
// directory on the way (symlinks followed, their directories included)
// must be searchable by c, and p must resolve to a regular file or
// hardlink c may execute.
func (ix *Index) CanExecute(p string, c Cred) bool {
	f := ix.f
	_, i, ok := walkIn[uint32](f, p, true, func(d uint32) bool { return c.may(&f.nodes[d]) })
	if !ok {
		return false
	}
	n := &f.nodes[i]
	return (n.typ == TypeRegular || n.typ == TypeHardlink) && c.may(n)
}

// ExecutableBy answers, for the container user as its config writes it,
// whether that user may execute p. known is false when the user cannot be
// resolved from what the index holds; ok then says nothing. who names the
// resolved user for messages ("uid 65532").
func (ix *Index) ExecutableBy(p, user string) (ok, known bool, who string) {
	c, known := ix.Cred(user)
	if !known {
		return false, false, ""
	}
	return ix.CanExecute(p, c), true, c.String()
}

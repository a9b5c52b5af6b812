package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/consts"
)

// MaxFileSize is the largest compose or env file `authz check` reads,
// 16 MiB: compose-go reads whole files into memory, and a compose project
// is a few kilobytes, so a larger file is a mistake (a log, a dump, a
// symlink to a disk image), not a project.
const MaxFileSize = 16 << 20

// checkFile refuses a file that compose-go must not open: anything but a
// regular file (a FIFO blocks the open forever, a device such as
// /dev/zero never ends, a socket cannot be read), directly or through a
// symlink, and a regular file larger than MaxFileSize. what says which
// file it is ("compose file", "env file"...). A file that does not exist
// is left to compose-go, which reports it as docker compose does.
func checkFile(path, what string) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	name := path
	if target, err := filepath.EvalSymlinks(path); err == nil && target != path {
		if abs, err := filepath.Abs(path); err != nil || abs != target {
			name = path + " (-> " + target + ")"
		}
	}
	mode := st.Mode()
	switch {
	case mode.IsDir():
		return nil // compose-go says "is a directory"
	case mode.IsRegular():
		if st.Size() > MaxFileSize {
			return fmt.Errorf("%s %s is %d bytes, more than the %d MiB authz check reads", what, name, st.Size(), MaxFileSize>>20)
		}
		return nil
	}
	kind := "not a regular file"
	switch {
	case mode&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		kind = "a socket"
	case mode&fs.ModeDevice != 0:
		kind = "a device"
	}
	return fmt.Errorf("%s %s is %s, not a regular file: authz check reads only regular files (opening a FIFO or device would block or never end)", what, name, kind)
}

// readBounded reads a file that checkFile accepted, never more than
// MaxFileSize bytes, should it have grown since.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, MaxFileSize>>20)
	}
	return b, nil
}

// checkFiles is checkFile on each file, with the first error.
func checkFiles(paths []string, what string) error {
	for _, p := range paths {
		if p == "-" {
			continue // stdin: compose-go reads it, as docker compose does
		}
		if err := checkFile(p, what); err != nil {
			return err
		}
	}
	return nil
}

// Remote resource kinds, as docker compose recognizes them.
const (
	remoteGit = "git"
	remoteOCI = "oci"
)

// scpStyleGit is a git remote in scp form, user@host:path (the form git
// and docker compose accept without a scheme).
var scpStyleGit = regexp.MustCompile(`^[a-zA-Z0-9-_]+@[a-zA-Z0-9-.]+:.*$`)

// urlScheme is a URL's scheme followed by "://".
var urlScheme = regexp.MustCompile(`^[a-zA-Z0-9]+://`)

// remoteKind says whether docker compose would fetch ref, an `include`
// path, an `extends` file or a -f file, from a remote: "oci" for
// oci://…, "git" for what its git loader accepts (ssh:// and git://
// URLs, http(s) URLs whose path ends in .git, scp-style user@host:path,
// and github.com/…), "" for a local path.
func remoteKind(ref string) string {
	if strings.HasPrefix(ref, "oci://") {
		return remoteOCI
	}
	if strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") {
		return ""
	}
	if strings.HasPrefix(ref, "github.com/") {
		return remoteGit
	}
	if scheme := urlScheme.FindString(ref); scheme != "" {
		u, err := url.Parse(ref)
		if err != nil {
			return ""
		}
		switch strings.ToLower(strings.TrimSuffix(scheme, "://")) {
		case "ssh", "git":
			return remoteGit
		case "http", "https":
			if strings.HasSuffix(u.Path, ".git") {
				return remoteGit
			}
		}
		return ""
	}
	if scpStyleGit.MatchString(ref) {
		return remoteGit
	}
	return ""
}

// RemoteError is a remote `include` or `extends` (git or oci://) that
// `authz check` does not fetch: checking must not depend on the network
// nor on credentials, and what a remote says can change between the
// check and the deployment.
type RemoteError struct {
	// File is the compose file that refers to the remote resource, ""
	// when it is given as a compose file itself.
	File string
	// Key is how the file refers to it: "include" or "extends".
	Key string
	// Ref is the remote reference, as written after interpolation.
	Ref string
}

func (e *RemoteError) Error() string {
	kind := "git repository"
	if remoteKind(e.Ref) == remoteOCI {
		kind = "OCI artifact"
	}
	where := "compose file " + e.Ref
	if e.File != "" {
		where = fmt.Sprintf("%s: %s %q", e.File, e.Key, e.Ref)
	}
	return fmt.Sprintf("%s: remote resources (%s) are not fetched by authz check: download it and check a local copy (refer to it by path, or give it with -f)",
		where, kind)
}

// remoteRefusal is a compose-go resource loader that claims what docker
// compose's git and OCI loaders claim and refuses to fetch it. Being
// registered, it also makes compose-go treat those references as remote
// when it resolves relative paths, as docker compose does. The walk in
// sources.go reports remote references first, with the key that holds
// them; this is the backstop for any reference compose-go resolves
// differently.
type remoteRefusal struct{}

func (remoteRefusal) Accept(path string) bool { return remoteKind(path) != "" }

func (remoteRefusal) Load(ctx context.Context, path string) (string, error) {
	file, _ := ctx.Value(consts.ComposeFileKey{}).(string)
	key := ""
	if file != "" {
		key = "include or extends"
	}
	return "", &RemoteError{File: file, Key: key, Ref: path}
}

func (remoteRefusal) Dir(path string) string { return path }

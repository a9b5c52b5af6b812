package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hardened-authz/hardened-authz/internal/atomicfile"
)

// persistedName is the file a bundle with `persist: true` is kept in,
// under <persistence_directory>/bundles/<name>/, as OPA keeps it.
const persistedName = "bundle.tar.gz"

// persistPath is where bundle name is kept, "" when it is not persisted
// or the directory cannot be known.
func (f *Fleet) persistPath(name string) string {
	src := f.cfg.bundles.Bundles[name]
	if src == nil || !src.Persist {
		return ""
	}
	dir, err := f.cfg.manager.Config.GetPersistenceDirectory()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "bundles", name, persistedName)
}

// save keeps the bytes of an activated bundle, so that a restart while
// the bundle server is away serves it again (loadPersisted). Only a
// bundle that passed validation is saved; a failure to save is logged
// and changes nothing else.
func (f *Fleet) save(name string, raw io.Reader) {
	p := f.persistPath(name)
	if p == "" || raw == nil {
		return
	}
	b, err := io.ReadAll(raw)
	if err == nil && len(b) == 0 {
		err = errors.New("the downloader kept no bytes")
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(p), 0o700)
	}
	if err == nil {
		err = atomicfile.Write(p, b, 0o600)
	}
	if err != nil {
		f.log.Warn("bundle not persisted; a restart without the bundle server will serve the embedded policies", "bundle", name, "path", p, "error", err.Error())
	}
}

// loadPersisted activates the bundles kept on disk by an earlier run,
// each verified with the configuration's signing keys and validated as a
// downloaded one is, before the first download. A file that is missing
// is the first start; one that fails is logged and left for the next
// download to replace.
func (f *Fleet) loadPersisted(ctx context.Context) {
	for _, name := range f.cfg.Bundles() {
		p := f.persistPath(name)
		if p == "" {
			continue
		}
		raw, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			var b, rerr = ReadBundle(bytes.NewReader(raw), name, f.cfg.bundles.Bundles[name].Signing)
			if rerr == nil {
				err = f.activate(ctx, name, b, nil, len(raw))
			} else {
				err = rerr
				f.mu.Lock()
				f.reject(name, "", fmt.Errorf("persisted bundle %s: %w", p, rerr))
				f.mu.Unlock()
			}
		}
		if err != nil {
			f.log.Warn("persisted bundle not served; waiting for the bundle server", "bundle", name, "path", p, "error", err.Error())
			continue
		}
		f.log.Info("persisted bundle loaded", "bundle", name, "path", p)
	}
}

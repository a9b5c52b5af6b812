package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// chainguardLocks is images/<name>/locked_config.json of Chainguard's
// images repository: per lock (an image build), per variant, per
// architecture, the apko configuration as a JSON string.
type chainguardLocks struct {
	ImageLocks map[string]struct {
		Configs    map[string]string `json:"configs"`
		DevConfigs map[string]string `json:"devConfigs"`
		Tags       []string          `json:"tags"`
		Repo       string            `json:"repo"`
	} `json:"imageLocks"`
	// RepoTags maps "public/<repository>" to the locks published there and
	// their tags.
	RepoTags map[string]map[string][]string `json:"repoTags"`
}

// apkoConfig is the part of an apko configuration the catalog reads.
type apkoConfig struct {
	Config struct {
		Accounts struct {
			RunAs json.RawMessage `json:"run-as"`
		} `json:"accounts"`
		Contents struct {
			Packages []string `json:"packages"`
		} `json:"contents"`
		Entrypoint struct {
			Command       string `json:"command"`
			Type          string `json:"type"`
			ShellFragment string `json:"shell-fragment"`
		} `json:"entrypoint"`
		Cmd         string            `json:"cmd"`
		Environment map[string]string `json:"environment"`
		WorkDir     string            `json:"work-dir"`
		Paths       []struct {
			Type string `json:"type"`
			Path string `json:"path"`
		} `json:"paths"`
	} `json:"config"`
}

// chainguardRegistry is where the public Chainguard images are published.
const chainguardRegistry = "cgr.dev/chainguard/"

// ReadChainguard reads a checkout of Chainguard's images repository: every
// images/<name>/locked_config.json, and SOURCE.md. A locked configuration
// lists every package of the image, with its version, so a tracked program
// no package provides is absent.
func ReadChainguard(dir string) (Source, []Image, error) {
	src, err := readSource(dir, "Chainguard Images", "Apache-2.0")
	if err != nil {
		return Source{}, nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "images", "*", "locked_config.json"))
	if err != nil {
		return Source{}, nil, err
	}
	if len(files) == 0 {
		return Source{}, nil, fmt.Errorf("%s: no images/*/locked_config.json", dir)
	}
	var images []Image
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return Source{}, nil, err
		}
		rel, _ := filepath.Rel(dir, f)
		imgs, err := DecodeChainguard(raw)
		if err != nil {
			return Source{}, nil, fmt.Errorf("%s: %w", rel, err)
		}
		for i := range imgs {
			imgs[i].File = filepath.ToSlash(rel)
		}
		images = append(images, imgs...)
	}
	return src, images, nil
}

// DecodeChainguard decodes one locked_config.json into the images it
// publishes: per repository and lock, the runtime variant under the lock's
// tags and the dev variant under the same tags with "-dev" appended, each
// with the facts every architecture shares.
func DecodeChainguard(raw []byte) ([]Image, error) {
	var locks chainguardLocks
	if err := json.Unmarshal(raw, &locks); err != nil {
		return nil, err
	}
	if len(locks.RepoTags) == 0 {
		return nil, errors.New("no repoTags")
	}
	var images []Image
	for _, repoKey := range slices.Sorted(maps.Keys(locks.RepoTags)) {
		name := strings.TrimPrefix(repoKey, "public/")
		if name == "" || strings.ContainsAny(name, ":@ /") {
			return nil, fmt.Errorf("repoTags %q: want public/<name>", repoKey)
		}
		repo := chainguardRegistry + name
		for _, lockName := range slices.Sorted(maps.Keys(locks.RepoTags[repoKey])) {
			tags := locks.RepoTags[repoKey][lockName]
			lock, ok := locks.ImageLocks[lockName]
			if !ok {
				return nil, fmt.Errorf("repoTags %s names lock %q, which imageLocks lacks", repoKey, lockName)
			}
			for _, v := range []struct {
				variant string
				configs map[string]string
				suffix  string
			}{{"runtime", lock.Configs, ""}, {"dev", lock.DevConfigs, "-dev"}} {
				if len(v.configs) == 0 {
					continue
				}
				f, err := chainguardFacts(v.configs)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", lockName, v.variant, err)
				}
				f.Variant = v.variant
				f.Family = "chainguard-" + name + v.suffix
				var ts []string
				for _, t := range tags {
					ts = append(ts, t+v.suffix)
				}
				images = append(images, Image{Repository: repo, Tags: ts, Facts: f})
			}
		}
	}
	return images, nil
}

// chainguardFacts is the meet of the facts of every architecture's
// configuration ("index" is the multi-architecture index, not a
// configuration).
func chainguardFacts(configs map[string]string) (Facts, error) {
	var per []Facts
	for _, arch := range slices.Sorted(maps.Keys(configs)) {
		if arch == "index" {
			continue
		}
		var c apkoConfig
		if err := json.Unmarshal([]byte(configs[arch]), &c); err != nil {
			return Facts{}, fmt.Errorf("%s: %w", arch, err)
		}
		per = append(per, apkoFacts(c))
	}
	if len(per) == 0 {
		return Facts{}, errors.New("no architecture configurations")
	}
	return MeetAll(per), nil
}

// apkoFacts works out the facts of one architecture's configuration.
func apkoFacts(c apkoConfig) Facts {
	cfg := c.Config
	ps := PackageSet{Distro: Wolfi, Complete: true}
	for _, p := range cfg.Contents.Packages {
		name, _, _ := strings.Cut(p, "=")
		if name != "" {
			ps.Packages = append(ps.Packages, name)
		}
	}
	for _, p := range cfg.Paths {
		if p.Type != "directory" {
			ps.Extra = append(ps.Extra, Extra{Path: p.Path})
		}
	}
	f := Facts{Workdir: cfg.WorkDir, User: runAs(cfg.Accounts.RunAs)}
	// A service bundle or a shell fragment is not an argv we can name.
	if cfg.Entrypoint.Type == "" && cfg.Entrypoint.ShellFragment == "" {
		if ep, ok := splitWords(cfg.Entrypoint.Command); ok {
			f.Entrypoint = ep
		}
	}
	if cmd, ok := splitWords(cfg.Cmd); ok {
		f.Cmd = cmd
	}
	if p, ok := cfg.Environment["PATH"]; ok {
		f.Path = splitPath(p)
	}
	f.Shell, f.Programs = Programs(ps)
	argvPrograms(f.Entrypoint, f.Cmd, &f.Shell, f.Programs)
	f.Interpreter = interpreterOf(f.Programs)
	return f
}

// runAs reads accounts.run-as, a string or a number.
func runAs(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// splitWords splits an apko command string into words as apko does:
// blanks separate words, single and double quotes group, a backslash
// escapes the next character. ok is false for an unterminated quote.
func splitWords(s string) (words []string, ok bool) {
	words = []string{}
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, false
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, true
}

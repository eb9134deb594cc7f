package snapshot

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/rootless"
)

// Overlay keeps each layer once, as an overlayfs lower dir; a container
// is an overlay mount of its image's layers with an upper and a work dir
// of its own.
type Overlay struct {
	*base
	// MaxOptions is the longest option string a mount may take: the
	// kernel copies one page of it. Tests lower it to force flattening.
	MaxOptions int
}

func (o *Overlay) Driver() string { return "overlay" }

// linkLen is the length of the short names of layers in l/. Ten base32
// characters (50 bits of the name's hash) cost 13 bytes per lower dir
// ("l/" + name + ":"), so a page holds about 300 layers where docker's 26
// characters hold about 120.
const linkLen = 10

var linkEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func linkName(key string) string {
	h := sha256.Sum256([]byte(key))
	return strings.ToLower(linkEncoding.EncodeToString(h[:]))[:linkLen]
}

// overlayOptions are set on every overlay mount: no inode index, and no
// redirect or metacopy, whose upper files a layer tar could not express
// (the diff refuses them), whatever the host's module defaults are.
// In a user namespace (a rootless strata) overlay keeps its marks in
// user.* xattrs (userxattr), which refuses redirect_dir=off for nofollow:
// redirects neither made nor followed.
var overlayOptions = func() []string {
	if rootless.InUserNS() {
		return []string{"userxattr", "index=off", "redirect_dir=nofollow", "metacopy=off"}
	}
	return []string{"index=off", "redirect_dir=off", "metacopy=off"}
}()

func (o *Overlay) maxOptions() int {
	if o.MaxOptions > 0 {
		return o.MaxOptions
	}
	return os.Getpagesize() - 1
}

func (o *Overlay) Prepare(key, parent string) ([]Mount, error) {
	err := o.create(key, parent, KindActive, func(dir string) error {
		return os.Mkdir(filepath.Join(dir, "work"), 0o700)
	})
	if err != nil {
		return nil, err
	}
	m, err := o.Mounts(key)
	if err != nil {
		o.Remove(key)
	}
	return m, err
}

// PrepareAbove is Prepare for a layer's unpack over a parent still being
// unpacked (Unpack's abover): the layer is written into the snapshot's
// own directory, and the parent is committed before it.
func (o *Overlay) PrepareAbove(key, parent string) error {
	return o.createAbove(key, parent, KindActive, func(dir string) error {
		return os.Mkdir(filepath.Join(dir, "work"), 0o700)
	})
}

func (o *Overlay) View(key, parent string) ([]Mount, error) {
	if parent == "" {
		return nil, fmt.Errorf("a view needs a parent snapshot")
	}
	if err := o.create(key, parent, KindView, nil); err != nil {
		return nil, err
	}
	m, err := o.Mounts(key)
	if err != nil {
		o.Remove(key)
	}
	return m, err
}

func (o *Overlay) Mounts(key string) ([]Mount, error) {
	in, err := o.Stat(key)
	if err != nil {
		return nil, err
	}
	switch in.Kind {
	case KindActive:
		upper := o.fsDir(key)
		if in.Parent == "" {
			return []Mount{{Type: "bind", Source: upper, Options: []string{"rbind", "rw"}}}, nil
		}
		tail := ",upperdir=" + upper + ",workdir=" + filepath.Join(o.path(key), "work")
		lowers, err := o.lowerDirs(in.Parent, o.maxOptions()-len(optionString(nil)+",lowerdir="+tail))
		if err != nil {
			return nil, err
		}
		opts := append(append([]string{}, overlayOptions...), "lowerdir="+strings.Join(lowers, ":"),
			"upperdir="+upper, "workdir="+filepath.Join(o.path(key), "work"))
		return []Mount{{Type: "overlay", Source: "overlay", Options: opts, Dir: o.root}}, nil
	case KindView:
		chain, err := o.parents(in.Parent)
		if err != nil {
			return nil, err
		}
		if len(chain) == 1 {
			return []Mount{{Type: "bind", Source: o.fsDir(chain[0]), Options: []string{"rbind", "ro"}}}, nil
		}
		return o.roMounts(in.Parent)
	}
	return nil, fmt.Errorf("snapshot %s is committed: it has no mounts", key)
}

// roMounts is a read-only overlay of the committed snapshot top and its
// parents.
func (o *Overlay) roMounts(top string) ([]Mount, error) {
	lowers, err := o.lowerDirs(top, o.maxOptions()-len(optionString(nil)+",lowerdir="))
	if err != nil {
		return nil, err
	}
	opts := append(append([]string{"ro"}, overlayOptions...), "lowerdir="+strings.Join(lowers, ":"))
	return []Mount{{Type: "overlay", Source: "overlay", Options: opts, Dir: o.root}}, nil
}

func optionString(extra []string) string {
	return strings.Join(append(append([]string{}, overlayOptions...), extra...), ",")
}

// lowerDirs returns the lowerdir entries (relative to o.root, topmost
// first) for the committed snapshot top and its parents, in at most
// budget bytes. When the short links do not fit, the bottom layers are
// merged into flattened snapshots (see flat).
func (o *Overlay) lowerDirs(top string, budget int) ([]string, error) {
	chain, err := o.parents(top)
	if err != nil {
		return nil, err
	}
	per := len("l/") + linkLen + 1
	fit := budget / per
	n := len(chain)
	if n <= fit {
		return o.links(chain)
	}
	// Flatten the bottom k layers (k a multiple of c, so that every image
	// over the same bottom layers shares the flattened snapshots), keep
	// the n-k above as they are: 1 + (n-k) <= fit.
	c := fit - 1
	if c < 2 {
		return nil, fmt.Errorf("overlay mount options too long for %d layers", n)
	}
	bottomFirst := reversed(chain)
	k := ((n - 1) / c) * c
	flat, err := o.flat(bottomFirst, k, c)
	if err != nil {
		return nil, err
	}
	return o.links(append(reversed(bottomFirst[k:]), flat))
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// links makes sure each snapshot has its short link and returns the
// lowerdir entries.
func (o *Overlay) links(keys []string) ([]string, error) {
	out := make([]string, len(keys))
	for i, k := range keys {
		l, err := o.ensureLink(k)
		if err != nil {
			return nil, err
		}
		out[i] = "l/" + l
	}
	return out, nil
}

// ensureLink creates the short link of a committed snapshot if it is
// missing: Commit makes it after the rename, so a crash in between leaves
// a snapshot without one, repaired here.
func (o *Overlay) ensureLink(key string) (string, error) {
	l := linkName(key)
	p := filepath.Join(o.root, "l", l)
	want := filepath.Join("..", "s", encode(key), "fs")
	got, err := os.Readlink(p)
	if err == nil {
		if got != want {
			return "", fmt.Errorf("short link %s is taken by %s (hash collision)", l, got)
		}
		return l, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.Symlink(want, p); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	return l, nil
}

// flatKey names the snapshot holding the merged layers up to chain ID c.
func flatKey(c string) string { return "flat:" + c }

// isFlat tells the key of a flattened snapshot and the chain it merges.
func isFlat(key string) (string, bool) { return strings.CutPrefix(key, "flat:") }

// flat returns the key of a committed snapshot holding layers
// bottomFirst[:k] merged into one directory, making it if needed from the
// flattened snapshot of the k-c layers below and the c layers above them
// (c+1 lower dirs, which fit). It is made by mounting those read-only and
// copying the merged tree, so whiteouts and opaque dirs are applied by the
// kernel itself.
func (o *Overlay) flat(bottomFirst []string, k, c int) (string, error) {
	key := flatKey(bottomFirst[k-1])
	if in, err := o.Stat(key); err == nil && in.Kind == KindCommitted {
		return key, nil
	}
	parts := reversed(bottomFirst[max(k-c, 0):k])
	if k > c {
		below, err := o.flat(bottomFirst, k-c, c)
		if err != nil {
			return "", err
		}
		parts = append(parts, below)
	}
	lowers, err := o.links(parts)
	if err != nil {
		return "", err
	}
	err = o.create(key, "", KindCommitted, func(dir string) error {
		if len(lowers) == 1 {
			return copyTree(filepath.Join(o.root, lowers[0]), filepath.Join(dir, "fs"))
		}
		mnt := filepath.Join(dir, "mnt")
		if err := os.Mkdir(mnt, 0o700); err != nil {
			return err
		}
		m := Mount{Type: "overlay", Source: "overlay", Dir: o.root,
			Options: append(append([]string{"ro"}, overlayOptions...), "lowerdir="+strings.Join(lowers, ":"))}
		if err := m.Mount(mnt); err != nil {
			return err
		}
		cerr := copyTree(mnt, filepath.Join(dir, "fs"))
		if err := Unmount(mnt); err != nil && cerr == nil {
			cerr = err
		}
		if cerr != nil {
			return cerr
		}
		if err := os.Remove(mnt); err != nil {
			return err
		}
		return syncFS(dir)
	})
	if err != nil && !errors.Is(err, ErrExists) {
		return "", fmt.Errorf("flatten layers: %w", err)
	}
	if _, err := o.ensureLink(key); err != nil {
		return "", err
	}
	return key, nil
}

func (o *Overlay) Commit(name, key string) error {
	err := o.commit(name, key, func(dir string) error {
		return os.RemoveAll(filepath.Join(dir, "work"))
	})
	if err != nil {
		return err
	}
	_, err = o.ensureLink(name)
	return err
}

func (o *Overlay) Remove(key string) error {
	in, err := o.Stat(key)
	if err != nil {
		return err
	}
	if err := o.remove(key); err != nil {
		return err
	}
	if in.Kind == KindCommitted {
		p := filepath.Join(o.root, "l", linkName(key))
		if got, err := os.Readlink(p); err == nil && got == filepath.Join("..", "s", encode(key), "fs") {
			os.Remove(p)
		}
	}
	return nil
}

// probeOverlay mounts a small overlay in dir and unmounts it.
func probeOverlay(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, "probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"l1", "l2", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o700); err != nil {
			return err
		}
	}
	m := Mount{Type: "overlay", Source: "overlay", Dir: tmp,
		Options: append(append([]string{}, overlayOptions...), "lowerdir=l1:l2", "upperdir="+filepath.Join(tmp, "u"), "workdir="+filepath.Join(tmp, "w"))}
	if err := m.Mount(filepath.Join(tmp, "m")); err != nil {
		return err
	}
	return unix.Unmount(filepath.Join(tmp, "m"), unix.MNT_DETACH)
}

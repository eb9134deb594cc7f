// Package snapshot keeps unpacked layers as snapshots named by chain ID,
// shared by every image and container above them, and the read-write
// snapshots of containers. Like containerd's snapshotters it returns
// mounts instead of mounting: the caller decides where and when a
// filesystem is mounted (see Mount.Mount), and never what a layer holds.
//
// On disk, under ROOT/snapshots/DRIVER:
//
//	s/NAME/info.json   kind and parent of the snapshot
//	s/NAME/fs/         the snapshot's files (overlay: its own layer only)
//	s/NAME/work/       overlay work dir of an active snapshot
//	l/LINK -> ../s/NAME/fs   short names of committed overlay layers
//	tmp/               snapshots being made or removed
//
// NAME is the key with ':' written as '='. A snapshot becomes visible by a
// rename of a complete directory from tmp/ into s/ (Prepare, flatten) or
// from one name to another (Commit), so a crash leaves either nothing or a
// whole snapshot, and of two processes committing the same name one wins
// (rename onto a non-empty directory fails) and nothing is half-written.
// What a crash leaves in tmp/, or an uncommitted unpack, is removed by the
// store's garbage collection (Collect, from the roots the store lists),
// which runs under the store's exclusive lock while every operation that
// prepares or commits snapshots holds it shared.
package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/layer"
)

// Kind is the kind of a snapshot.
type Kind string

const (
	// KindActive is a read-write snapshot: a container's, or a layer being
	// unpacked.
	KindActive Kind = "active"
	// KindView is a read-only view of a committed snapshot.
	KindView Kind = "view"
	// KindCommitted is an immutable snapshot, a parent for others.
	KindCommitted Kind = "committed"
)

// Info describes a snapshot.
type Info struct {
	Kind    Kind      `json:"kind"`
	Name    string    `json:"-"` // from the directory name, never stored
	Parent  string    `json:"parent,omitempty"`
	Created time.Time `json:"created"`
}

// Errors a Snapshotter returns (wrapped).
var (
	ErrNotFound = errdefs.NotFound(errors.New("snapshot not found"))
	ErrExists   = errdefs.Conflict(errors.New("snapshot already exists"))
)

// Snapshotter keeps snapshots. Keys of committed layer snapshots are
// chain IDs; other keys are chosen by the caller.
type Snapshotter interface {
	// Driver is the name of the storage driver (overlay, vfs).
	Driver() string
	Stat(key string) (Info, error)
	// Prepare makes an active snapshot key on top of the committed
	// snapshot parent ("" for an empty one) and returns its mounts.
	Prepare(key, parent string) ([]Mount, error)
	// View makes a read-only snapshot key of parent.
	View(key, parent string) ([]Mount, error)
	// Mounts returns the mounts of an active or view snapshot.
	Mounts(key string) ([]Mount, error)
	// Commit turns the active snapshot key into the committed snapshot
	// name; key is gone afterwards. ErrExists if name exists already
	// (someone else committed it first): key is left for the caller to
	// remove.
	Commit(name, key string) error
	// Remove removes a snapshot. It does not check for children: what
	// still needs a snapshot is decided by the caller (garbage collection
	// marks from images and containers).
	Remove(key string) error
	// Walk calls fn for every snapshot, sorted by name.
	Walk(fn func(Info) error) error
	// Dir returns the directory holding a snapshot's own files: for
	// overlay its layer (an active snapshot's upper dir), for vfs the
	// whole tree.
	Dir(key string) (string, error)
	// WriteDiff writes the layer tar of the changes the active or
	// committed snapshot key makes on its parent (OCI whiteouts for
	// deletions), each entry held to the layer rules (layer.EntryChecker)
	// as it is written. An active snapshot may be in use meanwhile (docker diff
	// of a running container): the diff is what it held as it was read.
	WriteDiff(w io.Writer, key string, opts layer.DiffOptions) error
	// Apply writes the layer tar r into the active snapshot key, which
	// is not mounted: the reverse of WriteDiff.
	Apply(ctx context.Context, key string, r io.Reader) error
	// Changes lists those changes as docker diff shows them.
	Changes(key string, opts layer.DiffOptions) ([]layer.Change, error)
	// RemoveStubs deletes from the active snapshot key each of paths that
	// its parent does not have: the empty files and directories a
	// runtime made to mount over (/etc/hosts, /proc, mount targets), not
	// a command's work. The snapshot must not be mounted.
	RemoveStubs(key string, paths []string) error
	// CleanTemp removes what unfinished operations left behind. Only call
	// it when no operation can be running (under the store's exclusive
	// lock).
	CleanTemp() error
}

// Drivers lists the storage drivers, preferred first.
var Drivers = []string{"overlay", "vfs"}

// Open opens the snapshots of driver in dir/DRIVER (dir is the store's
// snapshots directory).
func Open(dir, driver string) (Snapshotter, error) {
	root := filepath.Join(dir, driver)
	b := &base{root: root}
	if err := b.init(); err != nil {
		return nil, err
	}
	switch driver {
	case "overlay":
		return &Overlay{base: b}, nil
	case "vfs":
		return &VFS{base: b}, nil
	}
	return nil, fmt.Errorf("unknown storage driver %q (want overlay or vfs)", driver)
}

// Probe chooses a driver for the snapshots directory dir: overlay when an
// overlay filesystem with an upper layer in dir mounts (not on every
// filesystem, nor in every container), else vfs; why says so in words
// (for `strata info`).
func Probe(dir string) (driver, why string) {
	if err := probeOverlay(dir); err != nil {
		return "vfs", "overlay does not mount here: " + err.Error()
	}
	return "overlay", "overlay mounts here"
}

// base is what both drivers share: snapshot directories and their info.
type base struct {
	root string
}

func (b *base) init() error {
	for _, d := range []string{"s", "l", "tmp"} {
		if err := os.MkdirAll(filepath.Join(b.root, d), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// checkKey refuses keys that could not be a directory name, or would
// break an overlay option list (',' separates options, ':' lowerdirs;
// ':' is stored as '=').
func checkKey(key string) error {
	if key == "" || len(key) > 200 || key[0] == '.' {
		return fmt.Errorf("invalid snapshot key %q", key)
	}
	for _, r := range key {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-:", r)
		if !ok {
			return fmt.Errorf("invalid snapshot key %q", key)
		}
	}
	return nil
}

func encode(key string) string { return strings.ReplaceAll(key, ":", "=") }
func decode(name string) string {
	return strings.ReplaceAll(name, "=", ":")
}

func (b *base) path(key string) string { return filepath.Join(b.root, "s", encode(key)) }
func (b *base) fsDir(key string) string {
	return filepath.Join(b.path(key), "fs")
}

func (b *base) Dir(key string) (string, error) {
	if _, err := b.Stat(key); err != nil {
		return "", err
	}
	return b.fsDir(key), nil
}

func (b *base) Stat(key string) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, err
	}
	return readInfo(b.path(key), key)
}

func readInfo(dir, key string) (Info, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "info.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return Info{}, err
	}
	var in Info
	if err := json.Unmarshal(raw, &in); err != nil {
		return Info{}, fmt.Errorf("snapshot %s is damaged: %w", key, err)
	}
	in.Name = key
	return in, nil
}

func writeInfo(dir string, in Info) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "info.json.tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "info.json"))
}

func randomName(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// tempDir makes a directory in tmp/ to build a snapshot in.
func (b *base) tempDir() (string, error) {
	d := filepath.Join(b.root, "tmp", randomName("new-"))
	return d, os.Mkdir(d, 0o700)
}

// publish renames a complete snapshot directory built in tmp/ to key; it
// fails with ErrExists if key exists (the directory is then removed).
func (b *base) publish(tmp, key string) error {
	err := os.Rename(tmp, b.path(key))
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
		os.RemoveAll(tmp)
		return fmt.Errorf("%w: %s", ErrExists, key)
	}
	if err != nil {
		os.RemoveAll(tmp)
	}
	return err
}

// create builds a new snapshot of kind in tmp/ (fill makes its files) and
// publishes it under key.
func (b *base) create(key, parent string, kind Kind, fill func(dir string) error) error {
	if parent != "" {
		p, err := b.Stat(parent)
		if err != nil {
			return err
		}
		if p.Kind != KindCommitted {
			return fmt.Errorf("snapshot parent %s is not committed", parent)
		}
	}
	return b.createAbove(key, parent, kind, fill)
}

// createAbove is create without the check that parent is committed: the
// caller commits it before key.
func (b *base) createAbove(key, parent string, kind Kind, fill func(dir string) error) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if _, err := os.Lstat(b.path(key)); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, key)
	}
	tmp, err := b.tempDir()
	if err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(tmp, "fs"), 0o755); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if fill != nil {
		if err := fill(tmp); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	if err := writeInfo(tmp, Info{Kind: kind, Parent: parent, Created: time.Now().UTC()}); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return b.publish(tmp, key)
}

// commit renames active snapshot key to name, marked committed. prepare
// runs on the directory first (overlay drops its work dir).
func (b *base) commit(name, key string, prepare func(dir string) error) error {
	if err := checkKey(name); err != nil {
		return err
	}
	in, err := b.Stat(key)
	if err != nil {
		return err
	}
	if in.Kind != KindActive {
		return fmt.Errorf("snapshot %s is not active", key)
	}
	if _, err := os.Lstat(b.path(name)); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	dir := b.path(key)
	// The files must be on disk before the name says they are complete:
	// a power cut after the rename must not leave a committed snapshot
	// with missing data.
	if err := syncFS(dir); err != nil {
		return err
	}
	if prepare != nil {
		if err := prepare(dir); err != nil {
			return err
		}
	}
	committed := in
	committed.Kind = KindCommitted
	if err := writeInfo(dir, committed); err != nil {
		return err
	}
	err = os.Rename(dir, b.path(name))
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
		// Lost a race: key stays as it was, for the caller to remove.
		_ = writeInfo(dir, in)
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	if err != nil {
		_ = writeInfo(dir, in)
		return err
	}
	return syncDir(filepath.Join(b.root, "s"))
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// remove moves the snapshot out of s/ at once (so it is never seen half
// removed), then deletes it.
func (b *base) remove(key string) error {
	if _, err := b.Stat(key); err != nil {
		return err
	}
	trash := filepath.Join(b.root, "tmp", randomName("rm-"))
	if err := os.Rename(b.path(key), trash); err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

func (b *base) Walk(fn func(Info) error) error {
	ents, err := os.ReadDir(filepath.Join(b.root, "s"))
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		names = append(names, decode(e.Name()))
	}
	sort.Strings(names)
	for _, n := range names {
		in, err := readInfo(b.path(n), n)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return err
		}
		if err := fn(in); err != nil {
			return err
		}
	}
	return nil
}

func (b *base) CleanTemp() error {
	tmp := filepath.Join(b.root, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(tmp, e.Name())
		_ = unix.Unmount(p, unix.MNT_DETACH) // a flatten's mount point
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// parents lists the chain of committed snapshots from key down, key
// first.
func (b *base) parents(key string) ([]string, error) {
	var out []string
	for key != "" {
		in, err := b.Stat(key)
		if err != nil {
			return nil, err
		}
		out = append(out, key)
		key = in.Parent
		if len(out) > 100000 {
			return nil, fmt.Errorf("snapshot %s: parent loop", out[0])
		}
	}
	return out, nil
}

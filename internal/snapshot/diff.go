package snapshot

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/strata-dev/strata/internal/layer"
)

// Each driver writes its own diffs: overlay reads a snapshot's own layer
// and looks below it only for what the layer hides or replaces, vfs
// compares the snapshot's whole tree with its parent's. For the same
// changes both write the same bytes (the conformance suite checks it): the
// writers are deterministic (sorted entries, times and owners from the
// files). A committed snapshot never changes, so the tar written from it
// is, byte for byte, the one written from the active snapshot it was
// committed from with the same options. That lets a built layer be kept
// once, as its snapshot, and written as a tar only when something reads
// it (push, save); the reader checks the digest it was recorded with.

// diffable returns the info of a snapshot that has changes of its own:
// an active or committed one (a view is its parent's files).
func (b *base) diffable(key string) (Info, error) {
	in, err := b.Stat(key)
	if err != nil {
		return Info{}, err
	}
	if in.Kind == KindView {
		return Info{}, fmt.Errorf("snapshot %s is a view: it has no changes of its own", key)
	}
	return in, nil
}

// active returns the info of an active snapshot (one that may change).
func (b *base) active(key string) (Info, error) {
	in, err := b.Stat(key)
	if err == nil && in.Kind != KindActive {
		err = fmt.Errorf("snapshot %s is %s, not active", key, in.Kind)
	}
	return in, err
}

// layerDirs returns the snapshot's own layer and the layers below it,
// topmost first, by their own directories: not the short links or
// flattened snapshots a mount would use, as only what they hold matters
// to a diff.
func (o *Overlay) layerDirs(in Info) (upper string, lowers []string, err error) {
	chain, err := o.parents(in.Parent)
	if err != nil {
		return "", nil, err
	}
	lowers = make([]string, len(chain))
	for i, p := range chain {
		lowers[i] = o.fsDir(p)
	}
	return o.fsDir(in.Name), lowers, nil
}

func (o *Overlay) WriteDiff(w io.Writer, key string, opts layer.DiffOptions) error {
	in, err := o.diffable(key)
	if err != nil {
		return err
	}
	upper, lowers, err := o.layerDirs(in)
	if err != nil {
		return err
	}
	return layer.WriteDiffFromUpper(w, upper, lowers, opts)
}

// Apply keeps the layer's deletions as overlay whiteouts in the
// snapshot's own layer: the files they delete are in the layers below. A
// snapshot without parent has nothing below (its mount is a bind mount of
// its tree), so deletions are done.
func (o *Overlay) Apply(ctx context.Context, key string, r io.Reader) error {
	in, err := o.active(key)
	if err != nil {
		return err
	}
	_, err = layer.Apply(ctx, o.fsDir(key), r, layer.ApplyOptions{OverlayWhiteouts: in.Parent != ""})
	return err
}

func (o *Overlay) Changes(key string, opts layer.DiffOptions) ([]layer.Change, error) {
	in, err := o.diffable(key)
	if err != nil {
		return nil, err
	}
	upper, lowers, err := o.layerDirs(in)
	if err != nil {
		return nil, err
	}
	return layer.ChangesFromUpper(upper, lowers, opts)
}

func (o *Overlay) RemoveStubs(key string, paths []string) error {
	in, err := o.active(key)
	if err != nil {
		return err
	}
	upper, lowers, err := o.layerDirs(in)
	if err != nil {
		return err
	}
	return removeStubs(upper, lowers, paths)
}

// withTrees calls fn with the parent's tree (an empty directory for a
// snapshot without parent) and the snapshot's.
func (v *VFS) withTrees(in Info, fn func(lower, upper string) error) error {
	if in.Parent != "" {
		return fn(v.fsDir(in.Parent), v.fsDir(in.Name))
	}
	empty, err := os.MkdirTemp(filepath.Join(v.root, "tmp"), "empty-")
	if err != nil {
		return err
	}
	defer os.Remove(empty)
	return fn(empty, v.fsDir(in.Name))
}

func (v *VFS) WriteDiff(w io.Writer, key string, opts layer.DiffOptions) error {
	in, err := v.diffable(key)
	if err != nil {
		return err
	}
	return v.withTrees(in, func(lower, upper string) error {
		return layer.WriteDiffFromTrees(w, lower, upper, opts)
	})
}

// Apply writes the layer into the snapshot's copy of its parent's tree:
// deletions are done.
func (v *VFS) Apply(ctx context.Context, key string, r io.Reader) error {
	if _, err := v.active(key); err != nil {
		return err
	}
	_, err := layer.Apply(ctx, v.fsDir(key), r, layer.ApplyOptions{})
	return err
}

func (v *VFS) Changes(key string, opts layer.DiffOptions) (out []layer.Change, err error) {
	in, err := v.diffable(key)
	if err != nil {
		return nil, err
	}
	err = v.withTrees(in, func(lower, upper string) (err error) {
		out, err = layer.ChangesFromTrees(lower, upper, opts)
		return err
	})
	return out, err
}

func (v *VFS) RemoveStubs(key string, paths []string) error {
	in, err := v.active(key)
	if err != nil {
		return err
	}
	return v.withTrees(in, func(lower, upper string) error {
		return removeStubs(upper, []string{lower}, paths)
	})
}

// removeStubs deletes from the snapshot dir upper each of paths that no
// layer below shows: what a runtime or a build created to mount over.
// The directories made to hold them go too, as current BuildKit's mount
// stub cleaner does (docker 20.10 left /run/buildkit behind a RUN
// --mount=type=ssh): each parent that no layer below shows and that is
// empty now, up to the first one that is kept.
func removeStubs(upper string, lowers []string, paths []string) error {
	for _, p := range paths {
		if inLowers(lowers, p) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(upper, p)); err != nil {
			return err
		}
		for dir := path.Dir(path.Clean("/" + p)); dir != "/" && !inLowers(lowers, dir); dir = path.Dir(dir) {
			// Fails on a directory the command put files in: kept.
			if os.Remove(filepath.Join(upper, dir)) != nil {
				break
			}
		}
	}
	return nil
}

// inLowers tells whether the topmost layer that has p shows it (an
// overlay whiteout hides it).
func inLowers(lowers []string, p string) bool {
	for _, l := range lowers {
		fi, err := os.Lstat(filepath.Join(l, p))
		if err != nil {
			continue
		}
		return !isWhiteout(fi)
	}
	return false
}

// isWhiteout tells an overlay whiteout: a character device 0:0.
func isWhiteout(fi os.FileInfo) bool {
	if fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

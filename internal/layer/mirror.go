package layer

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Mirror makes the tree dst the same as the tree src, except for the
// paths of keep and what is below them, which are neither read from src
// nor changed in dst. The changes are found by the two-tree comparison of
// WriteDiffFromTrees (the vfs driver's), written by the same tar writer
// and applied to dst by Apply, so dst ends up holding exactly what a
// layer carries of each changed path: type, mode, owner, time in whole
// seconds, xattrs, device and hard links. Chroot isolation uses it to
// turn the job container's own root into a build step's files and back.
//
// A directory on the way to a kept path stays: when src lacks it, dst's is
// emptied of everything but the kept paths; when only dst lacks it, it is
// not added to dst unless something else under it is. src may not hold a
// non-directory where dst has one of them.
func Mirror(ctx context.Context, dst, src string, keep []string) error {
	opts := DiffOptions{Exclude: keep}
	d := &treeDiff{lower: dst, upper: src, ex: newExcluder(keep)}
	if err := d.walk("/", true); err != nil {
		return err
	}
	var cs []change
	for _, c := range d.out {
		if !holdsKept(c.Path, keep) {
			cs = append(cs, c)
			continue
		}
		switch {
		case c.Kind == Deleted:
			if err := emptyBut(filepath.Join(dst, c.Path), c.Path, keep, d.ex); err != nil {
				return err
			}
		case c.Kind == Added && !isDir(&c.info.st):
			cs = append(cs, c) // nothing of dst is below it
		case c.Kind == Modified && !isDir(&c.info.st):
			return fmt.Errorf("%s: a directory holding %s here, and not a directory in the tree to copy", c.Path, strings.Join(keep, ", "))
		case c.Kind == Modified && !c.parentOnly:
			cs = append(cs, c) // its own mode or owner changed
		}
		// Otherwise a directory only dst's kept paths need: finish adds
		// it back when something else below it changed.
	}
	cs = finish(cs)
	if len(cs) == 0 {
		return nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeChanges(pw, src, cs, opts)) }()
	_, err := Apply(ctx, dst, pr, ApplyOptions{})
	pr.CloseWithError(err) // the writer stops if Apply did first
	return err
}

// holdsKept tells whether a kept path is below p.
func holdsKept(p string, keep []string) bool {
	for _, k := range keep {
		if strings.HasPrefix(path.Clean("/"+k), p+"/") {
			return true
		}
	}
	return false
}

// emptyBut removes what directory abs (rel from the root) holds, except
// the kept paths and the directories on the way to them.
func emptyBut(abs, rel string, keep []string, ex excluder) error {
	names, err := readNames(abs)
	if err != nil {
		return err
	}
	for _, n := range names {
		p := path.Join(rel, n)
		switch {
		case ex.match(p):
		case holdsKept(p, keep):
			if err := emptyBut(filepath.Join(abs, n), p, keep, ex); err != nil {
				return err
			}
		default:
			if err := os.RemoveAll(filepath.Join(abs, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

package layer

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
)

// maxSymlinks bounds the symlinks followed resolving one path, as the
// kernel's ELOOP does.
const maxSymlinks = 255

// resolve returns the root-relative path that the relative path p names
// when root is taken as "/": each symlink met is replaced by its target,
// an absolute target restarts from the root and ".." never climbs above
// it. The result holds no symlink (each component was lstat'ed), so the
// calls made on it afterwards through a.root walk real directories only;
// os.Root still guards them against anything changing meanwhile.
//
// Missing directories are created (mode 0755, as containerd does) when
// create is set; otherwise a missing component is fs.ErrNotExist. A
// component that is not a directory is syscall.ENOTDIR.
func (a *applier) resolve(p string, create bool) (string, error) {
	var done []string
	todo := strings.Split(p, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := path.Join(path.Join(done...), c)
		fi, err := a.root.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := a.root.Mkdir(cur, 0o755); err != nil {
				return "", err
			}
			a.mark(cur)
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > maxSymlinks {
				return "", fmt.Errorf("%s: %w", p, syscall.ELOOP)
			}
			target, err := a.root.Readlink(cur)
			if err != nil {
				return "", err
			}
			if path.IsAbs(target) {
				done = done[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		case !fi.IsDir():
			return "", fmt.Errorf("%s: %w", cur, syscall.ENOTDIR)
		}
		done = append(done, c)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

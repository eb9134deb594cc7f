package snapshot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// copyTree copies the tree src into the existing directory dst, keeping
// types, owners, modes, times, extended attributes, device numbers and
// hard links (files linked in src are linked in dst). Symlinks are copied,
// never followed. Directory modes and times are set after their contents.
func copyTree(src, dst string) error {
	links := map[[2]uint64]string{}
	type dirMeta struct {
		path string
		st   unix.Stat_t
	}
	var dirs []dirMeta
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if rel != "." {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
			dirs = append(dirs, dirMeta{target, st})
			return copyMeta(p, target, &st, false)
		case unix.S_IFREG:
			if st.Nlink > 1 {
				key := [2]uint64{st.Dev, st.Ino}
				if first, ok := links[key]; ok {
					return os.Link(first, target)
				}
				links[key] = target
			}
			if err := copyFile(p, target); err != nil {
				return err
			}
		case unix.S_IFLNK:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(l, target); err != nil {
				return err
			}
		case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		case unix.S_IFSOCK:
			return nil // a socket is not content
		default:
			return fmt.Errorf("%s: unknown file type", p)
		}
		return copyMeta(p, target, &st, true)
	})
	if err != nil {
		return fmt.Errorf("copy tree: %w", err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.Chmod(dirs[i].path, dirs[i].st.Mode&0o7777); err != nil {
			return err
		}
		if err := setTimes(dirs[i].path, &dirs[i].st); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// io.Copy between files uses copy_file_range: no copy through user
	// space, and a reflink where the filesystem has them.
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyMeta sets owner, xattrs, mode and (unless later, for directories)
// times of dst from src.
func copyMeta(src, dst string, st *unix.Stat_t, times bool) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// After chown, which clears setuid bits.
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	if !times {
		return nil
	}
	return setTimes(dst, st)
}

func setTimes(p string, st *unix.Stat_t) error {
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

func copyXattrs(src, dst string) error {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(src, buf)
	if errors.Is(err, unix.ENOTSUP) || n == 0 {
		return nil
	}
	if errors.Is(err, unix.ERANGE) {
		buf = make([]byte, 1<<16)
		n, err = unix.Llistxattr(src, buf)
	}
	if err != nil {
		return err
	}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		// overlay's own bookkeeping describes the source's layer, not
		// the copy.
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		val := make([]byte, 1<<16)
		vn, err := unix.Lgetxattr(src, name, val)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return err
		}
		if err := unix.Lsetxattr(dst, name, val[:vn], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("%s: set xattr %s: %w", dst, name, err)
		}
	}
	return nil
}

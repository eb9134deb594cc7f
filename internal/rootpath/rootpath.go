// Package rootpath resolves a path inside a directory tree as a process
// chrooted there would: every symlink met is followed with the tree's root
// as "/", ".." stops at the root, and the result is a root-relative path
// that holds no symlink and never leads out. Layer extraction, container
// file access (cp, exec's PATH lookup, the working directory) and the build
// context all resolve paths this one way.
package rootpath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxSymlinks bounds the symlinks followed resolving one path, as the
// kernel's ELOOP does.
const MaxSymlinks = 255

// Tree is what resolution reads of a tree: Lstat and Readlink of
// root-relative paths. *os.Root is one; Dir is another.
type Tree interface {
	Lstat(rel string) (fs.FileInfo, error)
	Readlink(rel string) (string, error)
}

// Dir is a tree given by its directory name.
type Dir string

// Lstat describes rel without following it.
func (d Dir) Lstat(rel string) (fs.FileInfo, error) {
	return os.Lstat(filepath.Join(string(d), filepath.FromSlash(rel)))
}

// Readlink reads the symlink rel.
func (d Dir) Readlink(rel string) (string, error) {
	return os.Readlink(filepath.Join(string(d), filepath.FromSlash(rel)))
}

// Options say what to do at the end of the path and with what is missing.
type Options struct {
	// FollowLast follows a symlink in the last component too.
	FollowLast bool
	// Dir requires the last component to be a directory as well.
	Dir bool
	// Create makes a missing directory (then resolution goes on into it);
	// it is called with the root-relative path.
	Create func(rel string) error
	// MissingOK returns, for a missing component, the path resolved so
	// far with the rest of p appended as it is (a path about to be
	// created); a ".." in that rest is fs.ErrNotExist, as it could climb
	// out of the part that was resolved.
	MissingOK bool
}

// Resolve returns the root-relative path ("." for the root) that p names
// in t. A missing component is fs.ErrNotExist (unless Create or
// MissingOK), a component that is not a directory syscall.ENOTDIR, and
// more than MaxSymlinks links syscall.ELOOP.
func Resolve(t Tree, p string, o Options) (string, error) {
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
		last := isLast(todo)
		fi, err := t.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) && o.Create != nil {
			if err := o.Create(cur); err != nil {
				return "", err
			}
			done = append(done, c)
			continue
		}
		if errors.Is(err, fs.ErrNotExist) && o.MissingOK {
			done = append(done, c)
			for _, rest := range todo {
				switch rest {
				case "..":
					return "", fmt.Errorf("%s: %w", p, fs.ErrNotExist)
				case "", ".":
				default:
					done = append(done, rest)
				}
			}
			break
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 && (!last || o.FollowLast) {
			if links++; links > MaxSymlinks {
				return "", fmt.Errorf("%s: %w", p, syscall.ELOOP)
			}
			target, err := t.Readlink(cur)
			if err != nil {
				return "", err
			}
			if path.IsAbs(target) {
				done = done[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		if (!last || o.Dir) && !fi.IsDir() {
			return "", fmt.Errorf("%s: %w", cur, syscall.ENOTDIR)
		}
		done = append(done, c)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// isLast reports whether nothing but empty and "." components remain.
func isLast(todo []string) bool {
	for _, rest := range todo {
		if rest != "" && rest != "." {
			return false
		}
	}
	return true
}

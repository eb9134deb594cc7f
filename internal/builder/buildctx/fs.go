// Package buildctx is what a COPY or ADD reads from: a directory (the build
// context, or the root filesystem of another stage) seen through
// .dockerignore, with wildcard expansion and content checksums of exactly
// the files an instruction reads.
package buildctx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/builder/dockerignore"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/rootpath"
)

// FS is a source directory of a build.
type FS struct {
	// Root is the directory; paths never resolve outside it.
	Root string
	// Ignore hides paths (the context's .dockerignore); nil hides nothing.
	Ignore *dockerignore.Matcher
	// Sums remembers file checksums by stat data between builds; nil
	// hashes every file read.
	Sums *StatCache
}

// Entry is one file, directory or link of a source FS.
type Entry struct {
	Rel  string // slash-separated from the FS root, no leading slash; "" = the root
	Abs  string // path on the host
	Stat unix.Stat_t
}

// IsDir reports whether the entry is a directory.
func (e *Entry) IsDir() bool { return e.Stat.Mode&unix.S_IFMT == unix.S_IFDIR }

// IsSymlink reports whether the entry is a symbolic link.
func (e *Entry) IsSymlink() bool { return e.Stat.Mode&unix.S_IFMT == unix.S_IFLNK }

// IsRegular reports whether the entry is a regular file.
func (e *Entry) IsRegular() bool { return e.Stat.Mode&unix.S_IFMT == unix.S_IFREG }

func clean(rel string) string {
	return strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(rel)), "/")
}

// Lstat describes rel without following a final symlink. Intermediate
// symlinks are resolved inside the root.
func (f *FS) Lstat(rel string) (*Entry, error) {
	rel = clean(rel)
	dir, base := path.Split(rel)
	rdir, err := f.resolve(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return nil, err
	}
	r := path.Join(rdir, base)
	return f.lstatExact(r)
}

func (f *FS) lstatExact(r string) (*Entry, error) {
	if ok, err := f.visible(r); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%s: %w", r, errdefs.ErrNotFound)
	}
	e := &Entry{Rel: r, Abs: filepath.Join(f.Root, filepath.FromSlash(r))}
	if err := unix.Lstat(e.Abs, &e.Stat); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("%s: %w", r, errdefs.ErrNotFound)
		}
		return nil, err
	}
	return e, nil
}

// Stat describes rel, following symlinks inside the root, as a COPY
// source is followed.
func (f *FS) Stat(rel string) (*Entry, error) {
	r, err := f.resolve(clean(rel))
	if err != nil {
		return nil, err
	}
	return f.lstatExact(r)
}

// visible reports whether r is not hidden by the ignore file. The root is
// always visible.
func (f *FS) visible(r string) (bool, error) {
	if r == "" || f.Ignore.Empty() {
		return true, nil
	}
	ex, err := f.Ignore.Excluded(r)
	return !ex, err
}

// resolve follows every symlink of rel as if Root were "/" (see package
// rootpath). A missing component ends the resolution: the rest is
// returned as it is and the caller's stat reports it, unless it holds a
// "..", which could climb out of the context: that is errdefs.ErrNotFound.
func (f *FS) resolve(rel string) (string, error) {
	r, err := rootpath.Resolve(rootpath.Dir(f.Root), rel, rootpath.Options{FollowLast: true, MissingOK: true})
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return "", fmt.Errorf("%s: %w", rel, errdefs.ErrNotFound)
	case err != nil:
		return "", err
	case r == ".":
		return "", nil
	}
	return r, nil
}

// Walk calls fn for dir (a resolved directory) and everything visible below
// it, parents before children, names sorted. skip, when set, leaves out
// paths (relative to dir) such as --exclude patterns.
func (f *FS) Walk(dir *Entry, skip *dockerignore.Matcher, fn func(e *Entry, sub string) error) error {
	if err := fn(dir, ""); err != nil {
		return err
	}
	// Start the ignore state from the directory's own path.
	var ist dockerignore.State
	if !f.Ignore.Empty() && dir.Rel != "" {
		parts := strings.Split(dir.Rel, "/")
		for i := range parts {
			var err error
			if _, ist, err = f.Ignore.Match(strings.Join(parts[:i+1], "/"), ist); err != nil {
				return err
			}
		}
	}
	return f.walk(dir.Rel, "", ist, dockerignore.State{}, skip, fn, goruntime.GOMAXPROCS(0))
}

// walked is one entry a walk found, with what walking below it needs.
type walked struct {
	e        *Entry
	r, s     string // the entry's path in the FS and below the walk's start
	ist, sst dockerignore.State
	hidden   bool
}

// subtree is a directory walked on a goroutine of its own: its entries,
// in order, for the caller to pass on.
type subtree struct {
	done    chan struct{}
	entries []walked
	err     error
}

// walk calls fn for the entries below rel in order. With par > 1 the
// directories right below rel are walked by up to par goroutines (their
// entries are collected and passed on in order): a context's walk is
// mostly fstatat calls, which then run on every core.
func (f *FS) walk(rel, sub string, ist, sst dockerignore.State, skip *dockerignore.Matcher, fn func(*Entry, string) error, par int) error {
	items, err := f.list(rel, sub, ist, sst, skip)
	if err != nil {
		return err
	}
	exclusions := f.Ignore.Exclusions() || skip.Exclusions()
	var subtrees []*subtree
	if par > 1 {
		sem := make(chan struct{}, par)
		subtrees = make([]*subtree, len(items))
		for i, it := range items {
			if it.hidden || !it.e.IsDir() {
				continue
			}
			st := &subtree{done: make(chan struct{})}
			subtrees[i] = st
			go func() {
				defer close(st.done)
				sem <- struct{}{}
				defer func() { <-sem }()
				st.err = f.walk(it.r, it.s, it.ist, it.sst, skip, func(e *Entry, s string) error {
					st.entries = append(st.entries, walked{e: e, s: s})
					return nil
				}, 0)
			}()
		}
	}
	for i, it := range items {
		if it.hidden && !(it.e.IsDir() && exclusions) {
			continue
		}
		if !it.hidden {
			if err := fn(it.e, it.s); err != nil {
				return err
			}
		}
		if !it.e.IsDir() {
			continue
		}
		switch {
		case it.hidden:
			// Something below may be included again by a `!` pattern:
			// then its directory comes with it.
			err = f.walkHidden(it.e, it.s, it.ist, it.sst, skip, fn)
		case subtrees != nil:
			st := subtrees[i]
			<-st.done
			err = st.err
			for _, w := range st.entries {
				if err != nil {
					break
				}
				err = fn(w.e, w.s)
			}
		default:
			err = f.walk(it.r, it.s, it.ist, it.sst, skip, fn, 0)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// list reads directory rel: its entries sorted, stat'ed and matched.
func (f *FS) list(rel, sub string, ist, sst dockerignore.State, skip *dockerignore.Matcher) ([]walked, error) {
	abs := filepath.Join(f.Root, filepath.FromSlash(rel))
	d, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	// Each name is looked up in the open directory, not along its whole
	// path again: a 20,000-file context is stat'ed on every build.
	dirfd := int(d.Fd())
	sort.Strings(names)
	out := make([]walked, 0, len(names))
	for _, n := range names {
		w := walked{r: path.Join(rel, n), s: path.Join(sub, n)}
		var ex, sex bool
		if ex, w.ist, sex, w.sst, err = match(f.Ignore, w.r, ist, skip, w.s, sst); err != nil {
			return nil, err
		}
		w.e = &Entry{Rel: w.r, Abs: filepath.Join(abs, n)}
		if err := unix.Fstatat(dirfd, n, &w.e.Stat, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, &os.PathError{Op: "lstat", Path: w.e.Abs, Err: err}
		}
		w.hidden = ex || sex
		out = append(out, w)
	}
	return out, nil
}

// matchMu serialises the matchers: moby's patternmatcher compiles a
// pattern on its first use, which parallel walks must not race on.
var matchMu sync.Mutex

func match(ignore *dockerignore.Matcher, r string, ist dockerignore.State, skip *dockerignore.Matcher, s string, sst dockerignore.State) (bool, dockerignore.State, bool, dockerignore.State, error) {
	matchMu.Lock()
	defer matchMu.Unlock()
	ex, ist2, err := ignore.Match(r, ist)
	if err != nil {
		return false, ist2, false, sst, err
	}
	sex, sst2, err := skip.Match(s, sst)
	return ex, ist2, sex, sst2, err
}

// walkHidden walks an excluded directory; the directory is reported (once,
// before its first included child) only if something below is included.
func (f *FS) walkHidden(dir *Entry, sub string, ist, sst dockerignore.State, skip *dockerignore.Matcher, fn func(*Entry, string) error) error {
	reported := false
	return f.walk(dir.Rel, sub, ist, sst, skip, func(e *Entry, s string) error {
		if !reported {
			reported = true
			if err := fn(dir, sub); err != nil {
				return err
			}
		}
		return fn(e, s)
	}, 0)
}

// HasMeta reports whether a source path holds wildcard characters.
func HasMeta(p string) bool { return strings.ContainsAny(p, `*?[`) }

// Glob expands a source pattern (wildcards in any component) to the
// visible paths it matches, sorted.
func (f *FS) Glob(pattern string) ([]string, error) {
	parts := strings.Split(clean(pattern), "/")
	cur := []string{""}
	for _, p := range parts {
		var next []string
		for _, c := range cur {
			if !HasMeta(p) {
				next = append(next, path.Join(c, p))
				continue
			}
			rc, err := f.resolve(c)
			if errdefs.IsNotFound(err) {
				continue // as a directory that cannot be opened
			}
			if err != nil {
				return nil, err
			}
			d, err := os.Open(filepath.Join(f.Root, filepath.FromSlash(rc)))
			if err != nil {
				continue
			}
			names, _ := d.Readdirnames(-1)
			d.Close()
			sort.Strings(names)
			for _, n := range names {
				ok, err := path.Match(p, n)
				if err != nil {
					return nil, fmt.Errorf("invalid pattern %q: %w", pattern, err)
				}
				if ok {
					next = append(next, path.Join(c, n))
				}
			}
		}
		cur = next
	}
	var out []string
	for _, c := range cur {
		if _, err := f.Lstat(c); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

package layer

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// ChangeKind is what happened to a path, as `docker diff` prints it.
type ChangeKind int

const (
	Modified ChangeKind = iota // C; docker's ChangeModify is 0 too
	Added                      // A
	Deleted                    // D
)

func (k ChangeKind) String() string {
	switch k {
	case Modified:
		return "C"
	case Added:
		return "A"
	case Deleted:
		return "D"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is one changed path, absolute ("/etc/passwd").
type Change struct {
	Kind ChangeKind
	Path string
}

func (c Change) String() string { return c.Kind.String() + " " + c.Path }

// ChangesFromUpper lists the changes an overlayfs upper directory holds
// over its lower directories (topmost first, as in lowerdir=; they may hold
// overlay whiteouts, as Apply with OverlayWhiteouts writes them), with
// `docker diff` semantics: a path of upper that the lowers have is
// Modified, else Added; a whiteout is Deleted, and so is what an opaque
// directory hides; the parents of a change are Modified. Sorted by path.
func ChangesFromUpper(upper string, lowers []string, opts DiffOptions) ([]Change, error) {
	cs, err := upperChanges(upper, lowers, opts)
	return public(cs), err
}

// ChangesFromTrees lists the changes that turn the tree lower into the
// tree upper, with the semantics of ChangesFromUpper; a deleted directory
// is one change, without its contents.
func ChangesFromTrees(lower, upper string, opts DiffOptions) ([]Change, error) {
	cs, err := treeChanges(lower, upper, opts)
	return public(cs), err
}

// WriteDiffFromUpper writes the layer tar of the changes in an overlayfs
// upper directory: its files, OCI whiteouts for its whiteout devices and
// for the lower children its opaque directories hide. The overlay must be mounted
// without redirect_dir and metacopy, whose upper files a layer cannot
// express: they are refused.
func WriteDiffFromUpper(w io.Writer, upper string, lowers []string, opts DiffOptions) error {
	cs, err := upperChanges(upper, lowers, opts)
	if err != nil {
		return err
	}
	return writeChanges(w, upper, cs, opts)
}

// WriteDiffFromTrees writes the layer tar that turns lower into upper.
// For the same changes it writes the same bytes as WriteDiffFromUpper,
// except for a new hard link to an unchanged lower file (overlayfs copies
// the lower file up, so its diff holds both names).
func WriteDiffFromTrees(w io.Writer, lower, upper string, opts DiffOptions) error {
	cs, err := treeChanges(lower, upper, opts)
	if err != nil {
		return err
	}
	return writeChanges(w, upper, cs, opts)
}

// change is a Change with what writing it as a layer needs.
type change struct {
	Change
	opaque bool // a directory that hides the lower contents
	// parentOnly marks a directory that did not change itself: it is kept
	// only as the parent of another change.
	parentOnly bool
	// info is what the walk read of the path in the tree written, so that
	// writing its entry needs no second lstat or listxattr; nil for a
	// deletion and for a parent that finish adds.
	info *walkedFile
}

func public(cs []change) []Change {
	out := make([]Change, len(cs))
	for i, c := range cs {
		out[i] = c.Change
	}
	return out
}

// finish drops the unchanged directories that are no parent of a change,
// adds the parents missing and sorts by path.
func finish(cs []change) []change {
	needed := map[string]bool{}
	have := map[string]bool{}
	for _, c := range cs {
		have[c.Path] = true
		if c.parentOnly {
			continue
		}
		for p := path.Dir(c.Path); p != "/"; p = path.Dir(p) {
			needed[p] = true
		}
	}
	out := cs[:0]
	for _, c := range cs {
		if c.parentOnly && !needed[c.Path] {
			continue
		}
		c.parentOnly = false
		out = append(out, c)
	}
	for p := range needed {
		if !have[p] {
			out = append(out, change{Change: Change{Kind: Modified, Path: p}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func writeChanges(w io.Writer, root string, cs []change, opts DiffOptions) error {
	var ents []tarEntry
	// An opaque directory of the upper dir is written as a whiteout per
	// lower child it hides (listed by upperDiff.hidden), not as an opaque
	// marker: the tree comparison of the vfs driver cannot tell a
	// replaced directory from deleted children, and both drivers must
	// write the same layer for the same changes.
	for _, c := range cs {
		switch {
		case c.Kind == Deleted:
			dir, base := path.Split(c.Path)
			ents = append(ents, tarEntry{name: (dir + whiteoutPrefix + base)[1:]})
		default:
			ents = append(ents, tarEntry{name: c.Path[1:], src: filepath.Join(root, c.Path), info: c.info})
		}
	}
	return writeEntries(w, ents, opts)
}

func lstat(p string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func isDir(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFDIR }

// isWhiteout tells overlayfs' mark of a deleted path: a 0:0 char device.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func isOpaque(p string) bool {
	v, err := getXattr(p, overlayOpaqueXattr)
	return err == nil && v == "y"
}

// metaChanged compares two versions of a path as docker's changes.go
// does: type, mode, owner, device and xattrs; for non-directories also
// size, mtime and link target. The mtime of a directory changes with its
// children, which are reported themselves.
func metaChanged(a *unix.Stat_t, pa string, b *unix.Stat_t, pb string) (bool, error) {
	if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Rdev != b.Rdev {
		return true, nil
	}
	if !isDir(a) && (a.Size != b.Size || !sameTime(a.Mtim, b.Mtim)) {
		return true, nil
	}
	if a.Mode&unix.S_IFMT == unix.S_IFLNK {
		la, err1 := os.Readlink(pa)
		lb, err2 := os.Readlink(pb)
		if err := errors.Join(err1, err2); err != nil {
			return false, err
		}
		if la != lb {
			return true, nil
		}
	}
	xa, err1 := contentXattrs(pa)
	xb, err2 := contentXattrs(pb)
	if err := errors.Join(err1, err2); err != nil {
		return false, err
	}
	return !maps.Equal(xa, xb), nil
}

// sameTime compares mtimes; a time without nanoseconds (from a tar)
// matches any time in the same second.
func sameTime(a, b unix.Timespec) bool {
	if a.Nsec == 0 || b.Nsec == 0 {
		return a.Sec == b.Sec
	}
	return a == b
}

// treeDiff compares two whole trees.
type treeDiff struct {
	lower, upper string
	ex           excluder
	out          []change
}

func treeChanges(lower, upper string, opts DiffOptions) ([]change, error) {
	d := &treeDiff{lower: lower, upper: upper, ex: newExcluder(opts.Exclude)}
	if err := d.walk("/", true); err != nil {
		return nil, err
	}
	return finish(d.out), nil
}

// walk compares directory rel of both trees; all of rel in upper is
// Added when lower has no directory there.
func (d *treeDiff) walk(rel string, inLower bool) error {
	names, err := readNames(filepath.Join(d.upper, rel))
	if err != nil {
		return err
	}
	if inLower {
		old, err := readNames(filepath.Join(d.lower, rel))
		if err != nil {
			return err
		}
		names = union(names, old)
	}
	for _, n := range names {
		p := path.Join(rel, n)
		if d.ex.match(p) {
			continue
		}
		if err := d.entry(p, inLower); err != nil {
			return err
		}
	}
	return nil
}

func (d *treeDiff) entry(p string, inLower bool) error {
	pn := filepath.Join(d.upper, p)
	nst, err := lstat(pn)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var ost *unix.Stat_t
	po := filepath.Join(d.lower, p)
	if inLower {
		if ost, err = lstat(po); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	switch {
	case nst == nil:
		d.out = append(d.out, change{Change: Change{Kind: Deleted, Path: p}})
		return nil
	case ost == nil:
		d.out = append(d.out, change{Change: Change{Kind: Added, Path: p}, info: &walkedFile{st: *nst}})
		if isDir(nst) {
			return d.walk(p, false)
		}
		return nil
	}
	changed, err := metaChanged(ost, po, nst, pn)
	if err != nil {
		return err
	}
	if !isDir(nst) {
		// A directory replaced by a file takes its contents along:
		// no deletion is listed below it (a layer could not hold one).
		if changed {
			d.out = append(d.out, change{Change: Change{Kind: Modified, Path: p}, info: &walkedFile{st: *nst}})
		}
		return nil
	}
	d.out = append(d.out, change{Change: Change{Kind: Modified, Path: p}, parentOnly: !changed, info: &walkedFile{st: *nst}})
	return d.walk(p, isDir(ost))
}

func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, s := range append(a, b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// upperDiff reads an overlayfs upper directory.
type upperDiff struct {
	upper  string
	lowers []string
	ex     excluder
	out    []change
}

func upperChanges(upper string, lowers []string, opts DiffOptions) ([]change, error) {
	u := &upperDiff{upper: upper, lowers: lowers, ex: newExcluder(opts.Exclude)}
	if err := u.walk("/", true); err != nil {
		return nil, err
	}
	return finish(u.out), nil
}

// walk lists the changes under directory rel of the upper dir; inLower
// says whether the lowers have a directory at rel: when they do not (a
// directory the command made), nothing below it is looked up in them.
func (u *upperDiff) walk(rel string, inLower bool) error {
	names, err := readNames(filepath.Join(u.upper, rel))
	if err != nil {
		return err
	}
	for _, n := range names {
		p := path.Join(rel, n)
		if u.ex.match(p) {
			continue
		}
		if err := u.entry(p, inLower); err != nil {
			return err
		}
	}
	return nil
}

// Overlay features whose upper files only make sense with the lower
// layers at hand: a layer cannot carry them.
var unsupportedOverlayXattrs = []string{OverlayXattrPrefix + "redirect", OverlayXattrPrefix + "metacopy"}

func (u *upperDiff) entry(p string, parentInLower bool) error {
	abs := filepath.Join(u.upper, p)
	st, err := lstat(abs)
	if err != nil {
		return err
	}
	if isWhiteout(st) {
		u.out = append(u.out, change{Change: Change{Kind: Deleted, Path: p}})
		return nil
	}
	xs, err := listXattrs(abs)
	if err != nil {
		return err
	}
	for _, x := range unsupportedOverlayXattrs {
		if _, ok := xs[x]; ok {
			return fmt.Errorf("%s: upper directory uses overlay %s (mount with redirect_dir=off,metacopy=off)", p, x)
		}
	}
	opaque := xs[overlayOpaqueXattr] == "y"
	for k := range xs {
		if dropXattr(k) {
			delete(xs, k)
		}
	}
	c := change{Change: Change{Kind: Added, Path: p}, info: &walkedFile{st: *st, xattrs: xs, xattrsRead: true}}
	var lst *unix.Stat_t
	var lpath string
	if parentInLower {
		lst, lpath = lowerLookup(u.lowers, p)
	}
	if lst != nil {
		c.Kind = Modified
	}
	if !isDir(st) {
		u.out = append(u.out, c)
		return nil
	}
	c.opaque = opaque
	if lst != nil && !c.opaque && isDir(lst) {
		changed, err := metaChanged(lst, lpath, st, abs)
		if err != nil {
			return err
		}
		c.parentOnly = !changed
	}
	u.out = append(u.out, c)
	if c.opaque {
		if err := u.hidden(p); err != nil {
			return err
		}
	}
	return u.walk(p, lst != nil && isDir(lst))
}

// hidden lists as deleted what the lowers have in the opaque directory p
// and the upper does not.
func (u *upperDiff) hidden(p string) error {
	var names []string
	for _, l := range u.lowers {
		ns, err := readNames(filepath.Join(l, p))
		if err != nil && !errors.Is(err, unix.ENOTDIR) {
			return err
		}
		names = union(names, ns)
	}
	for _, n := range names {
		child := path.Join(p, n)
		if u.ex.match(child) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(u.upper, child)); !os.IsNotExist(err) {
			continue // in upper: listed by the walk
		}
		if st, _ := lowerLookup(u.lowers, child); st != nil {
			u.out = append(u.out, change{Change: Change{Kind: Deleted, Path: child}})
		}
	}
	return nil
}

// lowerLookup finds path p in the union of overlay lower directories,
// topmost first: the first that has it wins, unless a layer above deleted
// it (a whiteout), hid it (an opaque directory) or replaced a directory on
// its way by a non-directory. It returns nil when p is not there.
func lowerLookup(lowers []string, p string) (*unix.Stat_t, string) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for _, l := range lowers {
		st, abs, stop := lookupIn(l, parts)
		if st != nil || stop {
			return st, abs
		}
	}
	return nil, ""
}

// lookupIn looks for the path parts in one lower; stop says the layers
// below need not be looked at.
func lookupIn(layer string, parts []string) (st *unix.Stat_t, abs string, stop bool) {
	cur := layer
	opaque := false
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		s, err := lstat(cur)
		switch {
		case err != nil:
			return nil, "", opaque
		case isWhiteout(s):
			return nil, "", true
		case i == len(parts)-1:
			return s, cur, true
		case !isDir(s):
			return nil, "", true
		}
		opaque = opaque || isOpaque(cur)
	}
	return nil, "", opaque
}

package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Names with a meaning in OCI layer tars.
const (
	whiteoutPrefix     = ".wh."
	whiteoutMetaPrefix = ".wh..wh."      // aufs metadata (.wh..wh.plnk, .wh..wh.aufs)
	opaqueMarker       = ".wh..wh..opq"  // the directory hides everything below it
	paxXattrPrefix     = "SCHILY.xattr." // PAX record key of an extended attribute
)

// ApplyOptions tune how Apply writes a layer into a directory.
type ApplyOptions struct {
	// OverlayWhiteouts stores deletions the way overlayfs keeps them in an
	// upper directory instead of performing them: a 0:0 character device
	// for a deleted path, the xattr trusted.overlay.opaque=y (in a user
	// namespace user.overlay.opaque, see OverlayXattrPrefix) on an opaque
	// directory. The directory can then serve as an overlay lowerdir.
	OverlayWhiteouts bool
	// IgnoreOwner leaves new files owned by the caller instead of by the
	// uid/gid of the tar, as an unprivileged user cannot chown.
	IgnoreOwner bool
}

// Apply extracts an uncompressed layer tar r into the directory root and
// returns the number of bytes of file content written.
//
// Nothing outside root is ever written, whatever the tar holds: absolute
// names are taken as relative to root, entries that EntryChecker refuses are refused, the
// symlinks met on the way to an entry are resolved as if root were "/" (as
// containerd and docker do), and the entry itself is never followed but
// replaced. Whiteouts delete from root (or are stored in overlay form, see
// ApplyOptions). Device nodes are skipped when the caller may not create
// them. Directory modes and times are set last, so that read-only
// directories can be filled and their times are not disturbed by children.
func Apply(ctx context.Context, root string, r io.Reader, opts ApplyOptions) (int64, error) {
	rt, err := os.OpenRoot(root)
	if err != nil {
		return 0, err
	}
	defer rt.Close()
	a := &applier{ctx: ctx, root: rt, opts: opts, inLayer: map[string]bool{}, dirs: map[string]*dirMeta{}, check: NewEntryChecker(),
		open: map[string]openDir{}}
	defer a.closeDirs()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return a.written, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return a.written, fmt.Errorf("invalid layer tar: %w", err)
		}
		// The rules every stored layer passed (a layer stored before
		// they existed meets them here).
		if err := a.check.Check(hdr); err != nil {
			return a.written, fmt.Errorf("invalid layer: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return a.written, fmt.Errorf("apply layer: %s: %w", hdr.Name, err)
		}
	}
	return a.written, a.finishDirs()
}

type applier struct {
	ctx     context.Context
	root    *os.Root
	opts    ApplyOptions
	written int64
	// inLayer holds the root-relative paths this layer created (and their
	// parents): an opaque marker removes the other children of its dir.
	inLayer map[string]bool
	dirs    map[string]*dirMeta // metadata applied once every entry is in
	order   []string            // keys of dirs, in the order met
	buf     []byte              // for copySparse
	check   *EntryChecker
	// open caches the parent directories of the last entries, by their
	// name in the tar: a tar lists a directory's entries together, and
	// resolving and opening the parent for each (one openat per path
	// component, through os.Root) took a fifth of an unpack. Any removal
	// may change what a name resolves to, or leave a cached directory
	// deleted, so it empties the cache (forgetDirs).
	open map[string]openDir
	// retired are directories dropped from open while an entry may still
	// use one; they are closed before the next entry.
	retired []*os.File
}

type openDir struct {
	rel string // the resolved root-relative path
	f   *os.File
}

// maxOpenDirs bounds the directories kept open.
const maxOpenDirs = 32

// parentDir resolves the directory dir of an entry, creating what is
// missing, and returns it open.
func (a *applier) parentDir(dir string) (openDir, error) {
	if d, ok := a.open[dir]; ok {
		return d, nil
	}
	rel, err := a.resolve(dir, true)
	if err != nil {
		return openDir{}, err
	}
	f, err := a.openDir(rel)
	if err != nil {
		return openDir{}, err
	}
	if len(a.open) >= maxOpenDirs {
		a.forgetDirs()
	}
	d := openDir{rel: rel, f: f}
	a.open[dir] = d
	return d, nil
}

// forgetDirs empties the cache of open directories; an entry being
// applied keeps its parent open until the next one.
func (a *applier) forgetDirs() {
	for k, d := range a.open {
		a.retired = append(a.retired, d.f)
		delete(a.open, k)
	}
}

func (a *applier) closeRetired() {
	for _, f := range a.retired {
		f.Close()
	}
	a.retired = a.retired[:0]
}

func (a *applier) closeDirs() {
	a.forgetDirs()
	a.closeRetired()
}

// copySparse copies a file's content from r to the new file f and
// returns its size. Blocks of zeros are skipped rather than written: the
// tar reader expands the holes of a sparse entry into zeros, and a tiny
// layer can declare a sparse file of exabytes. The context is checked per
// block, so that a caller can bound the time such an entry takes.
func (a *applier) copySparse(f *os.File, r io.Reader) (int64, error) {
	if a.buf == nil {
		a.buf = make([]byte, 64<<10)
	}
	var off int64
	for {
		if err := a.ctx.Err(); err != nil {
			return off, err
		}
		n, err := r.Read(a.buf)
		if n > 0 && !allZero(a.buf[:n]) {
			if _, werr := f.WriteAt(a.buf[:n], off); werr != nil {
				return off, werr
			}
		}
		off += int64(n)
		if err == io.EOF {
			// A trailing hole still counts in the size.
			return off, f.Truncate(off)
		}
		if err != nil {
			return off, err
		}
	}
}

var zeros = make([]byte, 64<<10)

func allZero(b []byte) bool { return bytes.Equal(b, zeros[:len(b)]) }

// dirMeta is what is set on a directory after all entries are extracted.
type dirMeta struct {
	mode         uint32
	atime, mtime time.Time
}

// splitParent splits a clean relative path into its parent and base.
func splitParent(p string) (string, string) {
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	return dir, base
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	}
	name, err := cleanPath(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		// The root's own metadata belongs to whoever made the root;
		// containerd skips it too.
		return nil
	}
	a.closeRetired()
	dir, base := splitParent(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(dir, base)
	}
	parent, err := a.parentDir(dir)
	if err != nil {
		return err
	}
	at := at{fd: int(parent.f.Fd()), base: base, rel: path.Join(parent.rel, base)}
	a.mark(at.rel)
	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.dir(at, hdr)
	//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return a.file(at, hdr, r)
	case tar.TypeSymlink:
		return a.symlink(at, hdr)
	case tar.TypeLink:
		return a.hardlink(at, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return a.node(at, hdr)
	}
	return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
}

// at names an entry by its open parent directory, so that no path walk
// happens between checking and writing.
type at struct {
	fd   int    // the parent directory
	base string // the entry's name in it
	rel  string // the root-relative path, for os.Root calls and messages
}

// mark records that p (and so its parents) belongs to the layer.
func (a *applier) mark(p string) {
	for p != "." && !a.inLayer[p] {
		a.inLayer[p] = true
		p, _ = splitParent(p)
	}
}

func (a *applier) openDir(rel string) (*os.File, error) {
	return a.root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
}

// clear removes what is at e so that a new entry can be created there; an
// existing directory is kept when keepDir (a directory entry merges).
func (a *applier) clear(e at, keepDir bool) (kept bool, err error) {
	var st unix.Stat_t
	err = unix.Fstatat(e.fd, e.base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR && keepDir {
		return true, nil
	}
	a.forgetDirs()
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return false, a.root.RemoveAll(e.rel)
	}
	return false, unix.Unlinkat(e.fd, e.base, 0)
}

func (a *applier) dir(e at, hdr *tar.Header) error {
	kept, err := a.clear(e, true)
	if err != nil {
		return err
	}
	if !kept {
		// Owner-only until finishDirs sets the real mode.
		if err := unix.Mkdirat(e.fd, e.base, 0o700); err != nil {
			return err
		}
	}
	if err := a.owner(e, hdr); err != nil {
		return err
	}
	if err := a.xattrs(e, hdr); err != nil {
		return err
	}
	if _, ok := a.dirs[e.rel]; !ok {
		a.order = append(a.order, e.rel)
	}
	a.dirs[e.rel] = &dirMeta{mode: uint32(hdr.Mode) & 0o7777, atime: atime(hdr), mtime: hdr.ModTime}
	return nil
}

func (a *applier) file(e at, hdr *tar.Header, r io.Reader) error {
	if _, err := a.clear(e, false); err != nil {
		return err
	}
	// O_EXCL|O_NOFOLLOW: never write through something that appeared.
	fd, err := unix.Openat(e.fd, e.base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), e.rel)
	defer f.Close()
	n, err := a.copySparse(f, r)
	a.written += n
	if err != nil {
		return err
	}
	if err := a.owner(e, hdr); err != nil {
		return err
	}
	// After chown, which clears setuid and setgid.
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return err
	}
	if err := a.xattrs(e, hdr); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return a.times(e, atime(hdr), hdr.ModTime)
}

func (a *applier) symlink(e at, hdr *tar.Header) error {
	if _, err := a.clear(e, false); err != nil {
		return err
	}
	// The target is stored as written: it is only ever resolved inside
	// the root (by resolve here, by the container's root later).
	if err := unix.Symlinkat(hdr.Linkname, e.fd, e.base); err != nil {
		return err
	}
	if err := a.owner(e, hdr); err != nil {
		return err
	}
	if err := a.xattrs(e, hdr); err != nil {
		return err
	}
	return a.times(e, atime(hdr), hdr.ModTime)
}

// hardlink links e to the entry named by hdr.Linkname, a path from the
// root. The directories on the way are resolved inside the root, the last
// component is not followed (a hard link to a symlink links the symlink).
// The shared inode keeps the metadata it has.
func (a *applier) hardlink(e at, hdr *tar.Header) error {
	target, err := cleanPath(hdr.Linkname)
	if err != nil {
		return err
	}
	if target == "." {
		return fmt.Errorf("hard link to the root directory")
	}
	tdir, tbase := splitParent(target)
	tparent, err := a.resolve(tdir, false)
	if err != nil {
		return fmt.Errorf("hard link target %s: %w", hdr.Linkname, err)
	}
	if path.Join(tparent, tbase) == e.rel {
		return nil // a link to itself: already there
	}
	tf, err := a.openDir(tparent)
	if err != nil {
		return err
	}
	defer tf.Close()
	var st unix.Stat_t
	if err := unix.Fstatat(int(tf.Fd()), tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hard link target %s: %w", hdr.Linkname, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hard link target %s is a directory", hdr.Linkname)
	}
	if _, err := a.clear(e, false); err != nil {
		return err
	}
	return unix.Linkat(int(tf.Fd()), tbase, e.fd, e.base, 0)
}

func (a *applier) node(e at, hdr *tar.Header) error {
	if _, err := a.clear(e, false); err != nil {
		return err
	}
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	case tar.TypeFifo:
		mode |= unix.S_IFIFO
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(e.fd, e.base, mode, int(dev)); err != nil {
		if errors.Is(err, unix.EPERM) && hdr.Typeflag != tar.TypeFifo {
			return nil // not privileged (rootless, user namespace): as docker does
		}
		return err
	}
	if err := a.owner(e, hdr); err != nil {
		return err
	}
	// mknod applied the umask; the entry is a fresh node, not a symlink.
	if err := unix.Fchmodat(e.fd, e.base, mode&0o7777, 0); err != nil {
		return err
	}
	if err := a.xattrs(e, hdr); err != nil {
		return err
	}
	return a.times(e, atime(hdr), hdr.ModTime)
}

func (a *applier) owner(e at, hdr *tar.Header) error {
	if a.opts.IgnoreOwner {
		return nil
	}
	err := unix.Fchownat(e.fd, e.base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.EINVAL) {
		// Only in a user namespace (a rootless strata): the id has no
		// host id there.
		return fmt.Errorf("owner %d:%d is outside the ids this user namespace maps (a rootless strata maps the user's ranges of /etc/subuid and /etc/subgid: give it a larger one)", hdr.Uid, hdr.Gid)
	}
	return err
}

func (a *applier) times(e at, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(e.fd, e.base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func atime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

// procPath names e through its open parent directory, for the calls that
// take no directory descriptor (lsetxattr): the parent cannot move under
// us and the last component is not followed.
func procPath(e at) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", e.fd, e.base)
}

func (a *applier) xattrs(e at, hdr *tar.Header) error {
	for key, value := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(key, paxXattrPrefix)
		if !ok || dropXattr(name) {
			continue
		}
		err := unix.Lsetxattr(procPath(e), name, []byte(value), 0)
		if err != nil && !ignorableXattrErr(name, err) {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

// ignorableXattrErr tells the xattr failures that should not fail a pull:
// a filesystem without xattrs, security labels the host refuses, and the
// namespaces an unprivileged caller or a non-regular file cannot have.
func ignorableXattrErr(name string, err error) bool {
	switch {
	case errors.Is(err, unix.ENOTSUP):
		return true
	case strings.HasPrefix(name, "security."):
		return true
	case errors.Is(err, unix.EPERM) && strings.HasPrefix(name, "user."):
		return true // user.* exists only on regular files and directories
	case errors.Is(err, unix.EPERM) && strings.HasPrefix(name, "trusted.") && os.Geteuid() != 0:
		return true
	}
	return false
}

// whiteout applies the whiteout file base found in dir.
func (a *applier) whiteout(dir, base string) error {
	if base == opaqueMarker {
		return a.opaque(dir)
	}
	if strings.HasPrefix(base, whiteoutMetaPrefix) {
		return nil // aufs bookkeeping, nothing to apply
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return fmt.Errorf("invalid whiteout %q", base)
	}
	parent, err := a.resolve(dir, a.opts.OverlayWhiteouts)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing below to delete
	}
	if err != nil {
		return err
	}
	rel := path.Join(parent, name)
	if !a.opts.OverlayWhiteouts {
		a.forgetDirs()
		return a.root.RemoveAll(rel)
	}
	pf, err := a.openDir(parent)
	if err != nil {
		return err
	}
	defer pf.Close()
	e := at{fd: int(pf.Fd()), base: name, rel: rel}
	a.mark(rel)
	if _, err := a.clear(e, false); err != nil {
		return err
	}
	return unix.Mknodat(e.fd, e.base, unix.S_IFCHR, 0)
}

// opaque applies an opaque marker in dir: the children of dir that this
// layer did not write come from lower layers and go away.
func (a *applier) opaque(dir string) error {
	d, err := a.resolve(dir, a.opts.OverlayWhiteouts)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.prune(d); err != nil {
		return err
	}
	if d != "." {
		a.mark(d)
	}
	if !a.opts.OverlayWhiteouts {
		return nil
	}
	f, err := a.openDir(d)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Fsetxattr(int(f.Fd()), overlayOpaqueXattr, []byte("y"), 0)
}

// prune removes below d what this layer did not write. It descends into
// the directories the layer wrote, which may already hold lower contents
// when the opaque marker comes after them in the tar.
func (a *applier) prune(d string) error {
	f, err := a.openDir(d)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		p := path.Join(d, n)
		if !a.inLayer[p] {
			a.forgetDirs()
			if err := a.root.RemoveAll(p); err != nil {
				return err
			}
			continue
		}
		if fi, err := a.root.Lstat(p); err == nil && fi.IsDir() {
			if err := a.prune(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// finishDirs sets the modes and times of the directories of the layer,
// now that nothing more is written into them.
func (a *applier) finishDirs() error {
	for i := len(a.order) - 1; i >= 0; i-- {
		rel := a.order[i]
		if err := a.finishDir(rel, a.dirs[rel]); err != nil {
			return fmt.Errorf("apply layer: %s: %w", rel, err)
		}
	}
	return nil
}

func (a *applier) finishDir(rel string, m *dirMeta) error {
	dir, base := splitParent(rel)
	pf, err := a.openDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return nil // replaced by a later entry
	}
	if err != nil {
		return err
	}
	defer pf.Close()
	e := at{fd: int(pf.Fd()), base: base, rel: rel}
	var st unix.Stat_t
	if err := unix.Fstatat(e.fd, e.base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil // replaced or removed by a later entry
	}
	if err := unix.Fchmodat(e.fd, e.base, m.mode, 0); err != nil {
		return err
	}
	return a.times(e, m.atime, m.mtime)
}

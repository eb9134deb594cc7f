package layer

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DiffOptions tune the tars that the Diff producers and WriteTree write.
// Whatever the options, the same tree gives the same bytes: entries sorted
// by path (so parents before children), numeric owners without names,
// times in whole seconds, no access or change times, PAX records only
// where the USTAR header cannot hold a value (long names, xattrs). Every
// entry is held to the rules of a stored layer (EntryChecker) as it is
// written: a file named ".wh." refuses the tar.
type DiffOptions struct {
	// Timestamp, when set, clamps every time written to at most it, as
	// SOURCE_DATE_EPOCH does: rebuilt layers keep the same bytes.
	Timestamp *time.Time
	// Exclude lists absolute paths left out with everything below them,
	// such as the files a container runtime bind-mounts (/etc/hosts,
	// /etc/resolv.conf, /etc/hostname, /dev/shm).
	Exclude []string
	// ContentSize, when set, is given what the written tar unpacks to
	// (EntryChecker.ContentSize): the layer's size as docker shows it.
	ContentSize *int64
}

// WriteTree writes the whole directory dir (not dir itself) as a tar.
// Sockets are left out: a tar cannot hold them.
func WriteTree(w io.Writer, dir string, opts DiffOptions) error {
	ex := newExcluder(opts.Exclude)
	var ents []tarEntry
	var walk func(rel string) error
	walk = func(rel string) error {
		names, err := readNames(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		for _, n := range names {
			p := path.Join(rel, n)
			if ex.match(p) {
				continue
			}
			src := filepath.Join(dir, p)
			st, err := lstat(src)
			if err != nil {
				return err
			}
			ents = append(ents, tarEntry{name: p[1:], src: src, info: &walkedFile{st: *st}})
			if isDir(st) {
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("/"); err != nil {
		return err
	}
	return writeEntries(w, ents, opts)
}

// tarEntry is one entry to write: the file src, or a whiteout file when
// src is empty.
type tarEntry struct {
	name string // root-relative, without a trailing slash
	src  string
	info *walkedFile // what is known of src already, or nil
}

// walkedFile is what a walk read of a file: its lstat and, when xattrsRead,
// its content xattrs (contentXattrs).
type walkedFile struct {
	st         unix.Stat_t
	xattrs     map[string]string
	xattrsRead bool
}

func writeEntries(w io.Writer, ents []tarEntry, opts DiffOptions) error {
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	lw := &layerWriter{tw: tar.NewWriter(w), opts: opts, links: map[[2]uint64]string{}, check: NewEntryChecker()}
	pf := startPrefetch(ents)
	defer pf.stop()
	for i, e := range ents {
		var err error
		if e.src == "" {
			err = lw.whiteout(e.name)
		} else {
			lw.data, lw.dataErr, lw.prefetched = pf.take(i)
			err = lw.file(e.name, e.src, e.info)
		}
		if err != nil {
			return fmt.Errorf("write layer: %s: %w", e.name, err)
		}
	}
	if opts.ContentSize != nil {
		*opts.ContentSize = lw.check.ContentSize()
	}
	return lw.tw.Close()
}

type layerWriter struct {
	tw   *tar.Writer
	opts DiffOptions
	// links maps a multiply linked inode to the first name written for
	// it; the later names become hard links to it.
	links map[[2]uint64]string
	// check holds every entry to the rules of a stored layer as it is
	// written (a file named ".wh.x" written by RUN would be a whiteout),
	// so the tars written here need no second parse (CheckWriter).
	check *EntryChecker
	buf   []byte // file contents on their way into the tar
	// data is the current file's contents when the prefetcher read them
	// (prefetched), or the error it got.
	data       []byte
	dataErr    error
	prefetched bool
}

// writeHeader checks the entry, then writes its header.
func (lw *layerWriter) writeHeader(hdr *tar.Header) error {
	if err := lw.check.Check(hdr); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidLayer, err)
	}
	return lw.tw.WriteHeader(hdr)
}

func (lw *layerWriter) clamp(t time.Time) time.Time {
	t = t.Truncate(time.Second)
	if ts := lw.opts.Timestamp; ts != nil && t.After(*ts) {
		return ts.Truncate(time.Second)
	}
	return t
}

// whiteout writes an empty marker file; its time is fixed so that it
// does not depend on when the diff ran.
func (lw *layerWriter) whiteout(name string) error {
	mtime := time.Unix(0, 0)
	if lw.opts.Timestamp != nil {
		mtime = lw.clamp(*lw.opts.Timestamp)
	}
	return lw.writeHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, ModTime: mtime})
}

func (lw *layerWriter) file(name, src string, info *walkedFile) error {
	if info == nil {
		st, err := lstat(src)
		if err != nil {
			return err
		}
		info = &walkedFile{st: *st}
	}
	if !info.xattrsRead {
		xs, err := contentXattrs(src)
		if err != nil {
			return err
		}
		info.xattrs, info.xattrsRead = xs, true
	}
	hdr, err := lw.header(name, src, info)
	if err != nil || hdr == nil {
		return err
	}
	if err := lw.writeHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	if lw.prefetched {
		if lw.dataErr != nil {
			return lw.dataErr
		}
		_, err := lw.tw.Write(lw.data)
		return err
	}
	return lw.copyFile(src, hdr.Size)
}

// header describes src, nil for what a tar cannot hold.
func (lw *layerWriter) header(name, src string, info *walkedFile) (*tar.Header, error) {
	st := &info.st
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: lw.clamp(time.Unix(st.Mtim.Unix())),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return nil, err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, nil // sockets
	}
	if hdr.Typeflag != tar.TypeDir && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := lw.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			lw.links[key] = name
		}
	}
	for k, v := range info.xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[paxXattrPrefix+k] = v
	}
	return hdr, nil
}

// copyFile copies exactly size bytes of src, the size its header gave,
// into the tar. It reads with plain open/read/close: an os.File would
// cost each of 100,000 small files four fcntl and an epoll_ctl more.
func (lw *layerWriter) copyFile(src string, size int64) error {
	if lw.buf == nil {
		lw.buf = make([]byte, 1<<20)
	}
	return readExact(src, size, lw.buf, func(b []byte) error {
		_, err := lw.tw.Write(b)
		return err
	})
}

// readExact reads exactly size bytes of the file p with open/read/close,
// into buf used as a ring: each piece read is handed to emit, and is
// valid until emit returns. A buf of at least size bytes ends up holding
// the whole file.
func readExact(p string, size int64, buf []byte, emit func([]byte) error) error {
	fd, err := openRead(p)
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	var n int64
	for n < size {
		off := n % int64(len(buf))
		chunk := buf[off:min(int64(len(buf)), off+size-n)]
		r, err := unix.Read(fd, chunk)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "read", Path: p, Err: err}
		}
		if r == 0 {
			return fmt.Errorf("file shrank while being read (%d of %d bytes)", n, size)
		}
		if err := emit(chunk[:r]); err != nil {
			return err
		}
		n += int64(r)
	}
	return nil
}

func openRead(p string) (int, error) {
	for {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readNames lists a directory, sorted; nothing for a missing one.
func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// excluder matches the paths of DiffOptions.Exclude and what is below.
type excluder []string

func newExcluder(paths []string) excluder {
	var ex excluder
	for _, p := range paths {
		ex = append(ex, path.Clean("/"+p))
	}
	return ex
}

// match tells whether p, a path from the root such as "/etc/hosts", is
// excluded.
func (ex excluder) match(p string) bool {
	for _, e := range ex {
		if p == e || strings.HasPrefix(p, e+"/") || e == "/" {
			return true
		}
	}
	return false
}

package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// The entry rules every layer passes when it enters the store, when it is
// applied, and when fsck or analyze look at a stored one. They depend on
// the layer alone, never on the layers below it, so a layer is checked in
// the pass that hashes it, whatever image it belongs to:
//
//   - no name leaves the root: no ".." component (a leading "/" is taken
//     as the root, as the image-spec allows) and no NUL byte;
//   - a whiteout names one entry: ".wh." alone (a whiteout of its own
//     directory), ".wh.." and ".wh..." are refused; ".wh..wh..opq" is the
//     opaque marker and other ".wh..wh." names are aufs bookkeeping,
//     accepted and ignored as docker does;
//   - a hard link's target is a file (not a directory, not the root) that
//     an earlier entry of the same layer wrote and no later entry removed.
//     docker 20.10 on overlay2 refuses a link to anything else at load
//     ("link ... no such file or directory"), a link to a file that is
//     visible in the layers below included: each layer is unpacked into a
//     directory of its own, where the lower files are not;
//   - the entry type is one Apply knows.
//
// The last rule is why a lower-layer path set is not needed: what a link
// may point at is decided inside the layer.

// ErrInvalidLayer is wrapped by every refusal of a layer's bytes (not a
// tar, or an entry the rules refuse), as opposed to a failure to read them.
var ErrInvalidLayer = errors.New("invalid layer")

// EntryError is an entry that no layer may hold, and why.
type EntryError struct {
	Entry  string // the name as the tar gives it
	Reason string
}

func (e *EntryError) Error() string { return fmt.Sprintf("entry %q: %s", e.Entry, e.Reason) }

// EntryChecker checks the entries of one layer in tar order. It keeps a
// 64-bit hash per file entry (not the names), so a layer of a million
// files costs a few tens of MB at most.
type EntryChecker struct {
	n uint32
	// files maps the hash of a clean path written as a non-directory to
	// the sequence number of its entry.
	files map[uint64]uint32
	// removed maps the hash of a path that a later entry replaced with a
	// non-directory or whited out, to when: what was under it is gone.
	removed map[uint64]uint32
	// written, when set, answers for files and removed (see
	// NewEntryCheckerWith).
	written func(target string) bool
	// content is what the entries given to Check unpack to (ContentSize).
	content int64
}

// NewEntryChecker returns a checker for one layer.
func NewEntryChecker() *EntryChecker {
	return &EntryChecker{files: map[uint64]uint32{}, removed: map[uint64]uint32{}}
}

// NewEntryCheckerWith returns a checker for one layer that keeps no paths:
// written(target) says whether target (a clean root-relative path) is a
// non-directory that an earlier entry of the layer wrote, for a reader that
// tracks the layer's paths anyway (analyze's tree).
func NewEntryCheckerWith(written func(target string) bool) *EntryChecker {
	return &EntryChecker{written: written}
}

// Check checks the next entry of the layer and counts what it unpacks to.
func (c *EntryChecker) Check(hdr *tar.Header) error {
	if err := c.CheckEntry(hdr.Name, hdr.Typeflag, hdr.Linkname); err != nil {
		return err
	}
	c.content += contentSize(hdr)
	return nil
}

// ContentSize is the size of what the entries given to Check unpack to,
// counted as docker counts a layer's size (the SIZE of images and
// history, inspect's Size): docker unpacks a layer into a directory of its
// own and adds up the apparent sizes of what is not a directory there,
// each inode once. So a regular file counts its length, a symlink the
// length of its target, a hard link nothing more (it shares its target's
// inode) and directories, devices and whiteouts nothing. Counted as the
// layer enters the store, it costs no walk of an unpacked tree.
func (c *EntryChecker) ContentSize() int64 { return c.content }

func contentSize(hdr *tar.Header) int64 {
	switch hdr.Typeflag {
	//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return hdr.Size
	case tar.TypeSymlink:
		return int64(len(hdr.Linkname))
	}
	return 0
}

// CheckEntry checks the next entry of the layer, given by the fields of
// its header that the rules read (for readers of tars other than
// archive/tar's).
func (c *EntryChecker) CheckEntry(rawName string, typ byte, linkname string) error {
	if typ == tar.TypeXGlobalHeader {
		return nil
	}
	bad := func(format string, a ...any) error {
		return &EntryError{Entry: rawName, Reason: fmt.Sprintf(format, a...)}
	}
	name, err := cleanPath(rawName)
	if err != nil {
		return bad("%v", err)
	}
	if name == "." {
		return nil // the root's own metadata, skipped by Apply
	}
	c.n++
	dir, base := splitParent(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		if base == opaqueMarker || strings.HasPrefix(base, whiteoutMetaPrefix) {
			return nil
		}
		target := strings.TrimPrefix(base, whiteoutPrefix)
		switch target {
		case "":
			return bad("a whiteout with no name (it would delete its own directory)")
		case ".", "..":
			return bad("a whiteout of %q", target)
		}
		c.remove(path.Join(dir, target))
		return nil
	}
	switch typ {
	case tar.TypeDir:
		return nil
	//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	case tar.TypeLink:
		if err := c.checkLink(linkname); err != nil {
			return bad("%v", err)
		}
	default:
		return bad("unsupported entry type %q", typ)
	}
	// A non-directory replaces whatever was at its path, a directory's
	// contents included.
	c.remove(name)
	if c.files != nil {
		c.files[hashPath(name)] = c.n
	}
	return nil
}

func (c *EntryChecker) checkLink(linkname string) error {
	target, err := cleanPath(linkname)
	if err != nil {
		return fmt.Errorf("hard link target: %v", err)
	}
	if target == "." {
		return fmt.Errorf("hard link to the root directory")
	}
	if !c.present(target) {
		return fmt.Errorf("hard link to %q, which is not a file written earlier in this layer", linkname)
	}
	return nil
}

// present reports whether target was written as a non-directory and
// neither it nor a directory above it was removed since.
func (c *EntryChecker) present(target string) bool {
	if c.written != nil {
		return c.written(target)
	}
	at, ok := c.files[hashPath(target)]
	if !ok {
		return false
	}
	for p := target; p != "."; p = path.Dir(p) {
		if when, ok := c.removed[hashPath(p)]; ok && when > at {
			return false
		}
	}
	return true
}

func (c *EntryChecker) remove(p string) {
	if c.files == nil {
		return
	}
	h := hashPath(p)
	delete(c.files, h)
	c.removed[h] = c.n
}

// hashPath is FNV-1a, inline: no allocation per entry.
func hashPath(p string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(p); i++ {
		h ^= uint64(p[i])
		h *= 1099511628211
	}
	return h
}

// TrimName cuts the leading "/" and "./" and the trailing "/" of a tar
// name, without a copy ("./etc/" -> "etc", "/" -> "").
func TrimName(n string) string {
	for {
		if strings.HasPrefix(n, "/") {
			n = n[1:]
		} else if strings.HasPrefix(n, "./") {
			n = n[2:]
		} else {
			break
		}
	}
	for strings.HasSuffix(n, "/") {
		n = n[:len(n)-1]
	}
	return n
}

// cleanPath turns a tar name into a clean root-relative path, "." for the
// root itself, refusing one that leaves the root. The common names
// ("etc/", "./etc/passwd", "/usr/bin/x") are cut, not copied: this runs
// for every entry of every layer.
func cleanPath(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("the name contains a NUL byte")
	}
	n := TrimName(name)
	clean := true
	for rest := n; rest != ""; {
		seg := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		} else {
			rest = ""
		}
		switch seg {
		case "..":
			return "", fmt.Errorf("the name leaves the root")
		case "", ".":
			clean = false
		}
	}
	switch {
	case n == "" || n == ".":
		return ".", nil
	case clean:
		return n, nil
	}
	return path.Clean("/" + n)[1:], nil
}

// CheckWriter passes a layer tar on to another writer and checks it on a
// second goroutine as it goes (CheckTar), for the layers strata writes
// itself (build steps), so that they pass the same rules as those that
// arrive. Close, after the last write, returns the verdict.
type CheckWriter struct {
	w       io.Writer
	pw      *skipPipeWriter
	done    chan error
	content int64
}

// NewCheckWriter starts checking what is written through it to w.
func NewCheckWriter(w io.Writer) *CheckWriter {
	pr, pw := newSkipPipe()
	c := &CheckWriter{w: w, pw: pw, done: make(chan error, 1)}
	go func() {
		n, err := CheckTar(pr)
		pr.CloseWithError(err) // a refused tar stops the writer at once
		c.content = n
		c.done <- err
	}()
	return c
}

func (c *CheckWriter) Write(p []byte) (int, error) {
	if _, err := c.pw.Write(p); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Close ends the stream and returns the check's error, if any.
func (c *CheckWriter) Close() error {
	c.pw.Close()
	return <-c.done
}

// ContentSize is what the layer unpacks to (EntryChecker.ContentSize),
// once Close has returned.
func (c *CheckWriter) ContentSize() int64 { return c.content }

package analyze

import (
	"archive/tar"
	"bytes"
	"fmt"
	"hash/maphash"
	"io"
	"path"
	"strings"
	"sync"
	"unsafe"

	"github.com/strata-dev/strata/internal/layer"
)

// Entry kinds: what a tar entry means to the union filesystem.
const (
	KindFile     = iota // a file, directory, link or device the layer writes
	KindWhiteout        // .wh.NAME: NAME of the lower layers is deleted
	KindOpaque          // .wh..wh..opq: the directory's lower content is hidden
	KindMeta            // other .wh..wh.* names: aufs bookkeeping, no file
)

const (
	whiteoutPrefix = ".wh."
	metaPrefix     = ".wh..wh."
	opaqueMarker   = ".wh..wh..opq"
)

// Entry is one tar entry of a layer, reduced to what the analysis needs.
// Name is the cleaned path without a leading slash; for a whiteout it is
// the name in the tar (dir/.wh.x), Target the path it deletes (dir/x); for
// an opaque marker Target is the directory.
type Entry struct {
	Name     string
	RawName  string // as in the tar, for layer.EntryChecker
	Target   string
	Kind     int
	Type     byte
	Size     int64
	Mode     int64
	UID, GID int
	ModTime  int64 // unix nanoseconds
	Linkname string
	// Hash identifies the content of a regular file (of its link target for
	// links), unless Lazy. It is a 64-bit maphash with a seed fixed for one analysis: it
	// is compared within a run, never stored, so it needs no stable value,
	// and it hashes several GB/s where sha256 would be the bottleneck.
	Hash uint64
	// Lazy: the content was skipped, not hashed (a big file of a seekable
	// plain tar); it starts at Offset in the tar, to be hashed on demand.
	Lazy   bool
	Offset int64
}

// IsDir reports whether the entry is a directory.
func (e *Entry) IsDir() bool { return e.Type == tar.TypeDir }

// copyBufs keeps the 64 KiB read and hashing buffers between layers (more
// costs memory and gains no speed).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// Walk reads the layer stream r (gzip, zstd or plain tar) once and calls fn
// for each entry with its content hashed; fn must not keep e nor its
// strings, which may be overwritten by the next entry. It returns
// the number of uncompressed bytes read. Nothing is extracted or buffered
// beyond one copy buffer.
//
// When r is a plain tar that can seek (a blob file of the store) and
// lazyMin > 0, regular files of lazyMin bytes or more are not read: the tar
// reader seeks over them and the entry says where they are, so that a
// 1 GiB file costs a seek unless some other file has its size.
func Walk(r io.Reader, seed maphash.Seed, lazyMin int64, fn func(e *Entry) error) (int64, error) {
	return WalkTap(r, seed, lazyMin, nil, fn)
}

// A Tap reads the content of some regular files while Walk hashes it, so
// that another reader of the layer (the package inventory) needs no pass
// of its own. Read gets the entry before fn does; it may read r partly
// or not at all (Walk hashes the rest), and must not keep e nor r.
type Tap interface {
	Wants(e *Entry) bool
	Read(e *Entry, r io.Reader)
}

// WalkTap is Walk with tap given the content of the files it wants
// (never skipped lazily).
func WalkTap(r io.Reader, seed maphash.Seed, lazyMin int64, tap Tap, fn func(e *Entry) error) (int64, error) {
	var cr *countReader
	if rs, ok := r.(io.ReadSeeker); ok && lazyMin > 0 {
		head := make([]byte, 6)
		n, _ := io.ReadFull(rs, head)
		if _, err := rs.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		if layer.Detect(head[:n]) == layer.Uncompressed {
			cr = &countReader{r: rs, s: rs}
		}
	}
	if cr == nil {
		lazyMin = 0
		dr, _, err := layer.Decompress(r)
		if err != nil {
			return 0, err
		}
		defer dr.Close()
		cr = &countReader{r: dr}
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	w := walker{cr: cr, buf: *bp, seed: seed, lazyMin: lazyMin, tap: tap, fn: fn,
		name: make([]byte, 0, 256), link: make([]byte, 0, 100), target: make([]byte, 0, 256)}
	if err := w.fast(); err != nil {
		return w.pos(), err
	}
	if w.fallback {
		// An entry the fast reader does not handle (PAX, GNU long names,
		// sparse files, old formats, base-256 numbers): archive/tar reads
		// the rest of the stream from that entry's header on.
		// The buffered bytes are copied: walkTar reuses the buffer.
		rest := &countReader{r: io.MultiReader(bytes.NewReader(bytes.Clone(w.buf[w.lo:w.hi])), cr), n: w.pos()}
		w.lo, w.hi = 0, 0
		if err := walkTar(tar.NewReader(rest), rest, seed, *bp, tap, fn); err != nil {
			return rest.n, err
		}
	}
	// Read the padding after the end marker too, so the count is the tar's size.
	if _, err := io.CopyBuffer(io.Discard, cr, *bp); err != nil {
		return cr.n, fmt.Errorf("layer tar: %w", err)
	}
	return cr.n, nil
}

// entryOf fills e from a header's fields and classifies it; it reports
// false for an entry to skip (the root itself). A whiteout's target is
// built in *scratch.
func entryOf(e *Entry, seed maphash.Seed, rawName string, typ byte, size, mode int64, uid, gid int, mtime int64, linkname string, scratch *[]byte) bool {
	name := cleanName(rawName)
	if name == "" {
		return false // the root itself ("./")
	}
	*e = Entry{
		Name: name, RawName: rawName, Target: name, Type: typ, Size: size, Mode: mode,
		UID: uid, GID: gid, ModTime: mtime, Linkname: linkname,
	}
	dir, base := path.Split(name)
	switch {
	case base == opaqueMarker:
		e.Kind, e.Target = KindOpaque, strings.TrimSuffix(dir, "/")
	case strings.HasPrefix(base, metaPrefix):
		e.Kind, e.Target = KindMeta, strings.TrimSuffix(dir, "/")
	case strings.HasPrefix(base, whiteoutPrefix):
		e.Kind = KindWhiteout
		b := append(append((*scratch)[:0], dir...), base[len(whiteoutPrefix):]...)
		*scratch = b
		e.Target = unsafe.String(unsafe.SliceData(b), len(b))
	}
	//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
	if typ == tar.TypeRegA {
		e.Type = tar.TypeReg
	}
	if e.Type == tar.TypeSymlink || e.Type == tar.TypeLink {
		e.Hash = maphash.String(seed, linkname)
	}
	return true
}

// walkTar is the archive/tar walk, for streams the fast reader leaves.
func walkTar(tr *tar.Reader, cr *countReader, seed maphash.Seed, buf []byte, tap Tap, fn func(e *Entry) error) error {
	var h maphash.Hash
	h.SetSeed(seed)
	var e Entry
	var scratch []byte
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("layer tar: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if !entryOf(&e, seed, hdr.Name, hdr.Typeflag, hdr.Size, hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime.UnixNano(), hdr.Linkname, &scratch) {
			continue
		}
		if e.Type == tar.TypeReg {
			h.Reset()
			if tap != nil && tap.Wants(&e) {
				tap.Read(&e, io.TeeReader(tr, &h))
			}
			if _, err := io.CopyBuffer(&h, tr, buf); err != nil {
				return fmt.Errorf("layer tar: %s: %w", e.Name, err)
			}
			e.Hash = h.Sum64()
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
}

// cleanName makes a tar name a rooted-relative path as dive sees it:
// "./a//b/" -> "a/b", "/" and "./" -> "".
func cleanName(n string) string {
	n = layer.TrimName(n)
	if n == "." {
		return ""
	}
	if isClean(n) {
		return n
	}
	return strings.TrimPrefix(path.Clean("/"+n), "/")
}

// countReader counts the position in the tar; s is set when the stream
// can seek, so that the walker skips big unread contents with a seek.
type countReader struct {
	r io.Reader
	s io.Seeker
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// isClean reports whether n is a relative path path.Clean leaves as it is
// (no empty, "." or ".." element), the common case, to spare its copy.
func isClean(n string) bool {
	if n == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(n); i++ {
		if i < len(n) && n[i] != '/' {
			continue
		}
		switch n[start:i] {
		case "", ".", "..":
			return false
		}
		start = i + 1
	}
	return true
}

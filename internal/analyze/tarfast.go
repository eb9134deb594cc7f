package analyze

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"strings"
	"time"
	"unsafe"
)

// walker reads a layer's tar through one buffer, parsing plain ustar and
// GNU headers itself: archive/tar allocates a Header, its strings and
// times for every entry and reads each 512-byte block with its own call,
// which for a 100,000-file layer is most of the analysis. Whatever it
// does not handle it leaves to archive/tar (fallback), from that entry on.
type walker struct {
	cr       *countReader
	buf      []byte
	lo, hi   int // buffered bytes: buf[lo:hi]
	eof      bool
	seed     maphash.Seed
	lazyMin  int64
	tap      Tap
	fn       func(e *Entry) error
	fallback bool
	// The entry's strings are built here, not allocated: they are valid
	// until the next entry (see Walk).
	name, link, target []byte
}

// pos is the offset in the tar of buf[lo].
func (w *walker) pos() int64 { return w.cr.n - int64(w.hi-w.lo) }

// fill buffers at least n bytes (n <= len(buf)) unless the stream ends
// first; it returns how many are buffered.
func (w *walker) fill(n int) (int, error) {
	if w.hi-w.lo >= n || w.eof {
		return w.hi - w.lo, nil
	}
	if w.lo > 0 {
		copy(w.buf, w.buf[w.lo:w.hi])
		w.hi -= w.lo
		w.lo = 0
	}
	for w.hi < n {
		m, err := w.cr.Read(w.buf[w.hi:])
		w.hi += m
		if err == io.EOF {
			w.eof = true
			break
		}
		if err != nil {
			return w.hi, err
		}
	}
	return w.hi - w.lo, nil
}

// skip passes n bytes, seeking over them when the stream can.
func (w *walker) skip(n int64) error {
	if b := int64(w.hi - w.lo); n <= b {
		w.lo += int(n)
		return nil
	} else {
		n -= b
		w.lo, w.hi = 0, 0
	}
	if w.cr.s != nil && n > int64(len(w.buf)) {
		// Seek to the last byte and read it, to see that the stream has it.
		off, err := w.cr.s.Seek(n-1, io.SeekCurrent)
		if err != nil {
			return err
		}
		w.cr.n = off
		if m, err := w.fill(1); m == 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		w.lo++
		return nil
	}
	for n > 0 {
		m, err := w.fill(int(min(n, int64(len(w.buf)))))
		if m == 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		m = int(min(int64(m), n))
		w.lo += m
		n -= int64(m)
	}
	return nil
}

// hash hashes the next n bytes.
func (w *walker) hash(n int64) (uint64, error) {
	if int64(w.hi-w.lo) >= n || n <= int64(len(w.buf)) {
		if m, err := w.fill(int(n)); int64(m) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		s := maphash.Bytes(w.seed, w.buf[w.lo:w.lo+int(n)])
		w.lo += int(n)
		return s, nil
	}
	var h maphash.Hash
	h.SetSeed(w.seed)
	for n > 0 {
		m, err := w.fill(int(min(n, int64(len(w.buf)))))
		if m == 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		m = int(min(int64(m), n))
		h.Write(w.buf[w.lo : w.lo+m])
		w.lo += m
		n -= int64(m)
	}
	return h.Sum64(), nil
}

// tapped gives the next n bytes to the tap as a reader and hashes them,
// what the tap read and the rest, as hash does.
func (w *walker) tapped(e *Entry, n int64) (uint64, error) {
	cr := &contentReader{w: w, left: n}
	cr.h.SetSeed(w.seed)
	w.tap.Read(e, cr)
	if cr.err != nil {
		return 0, cr.err
	}
	for cr.left > 0 {
		m, err := w.fill(int(min(cr.left, int64(len(w.buf)))))
		if m == 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		m = int(min(int64(m), cr.left))
		cr.h.Write(w.buf[w.lo : w.lo+m])
		w.lo += m
		cr.left -= int64(m)
	}
	return cr.h.Sum64(), nil
}

// contentReader reads a file's content out of the walker's buffer,
// hashing what it hands out.
type contentReader struct {
	w    *walker
	left int64
	h    maphash.Hash
	err  error
}

func (r *contentReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.err != nil {
		return 0, r.err
	}
	w := r.w
	m, err := w.fill(1)
	if m == 0 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
		return 0, err
	}
	n := copy(p, w.buf[w.lo:w.lo+int(min(int64(m), r.left))])
	r.h.Write(p[:n])
	w.lo += n
	r.left -= int64(n)
	return n, nil
}

var zeroBlock [512]byte

// fast walks the stream until its end or an entry it leaves to
// archive/tar (then w.fallback is set and buf[lo:] starts at its header).
func (w *walker) fast() error {
	var e Entry
	for {
		m, err := w.fill(512)
		if err != nil {
			return fmt.Errorf("layer tar: %w", err)
		}
		if m == 0 {
			return nil // archive/tar takes a stream ending here as the end
		}
		if m < 512 {
			return fmt.Errorf("layer tar: %w", io.ErrUnexpectedEOF)
		}
		blk := w.buf[w.lo : w.lo+512]
		if bytes.Equal(blk, zeroBlock[:]) {
			w.lo += 512
			m, err := w.fill(512)
			if err != nil {
				return fmt.Errorf("layer tar: %w", err)
			}
			switch {
			case m == 0:
				return nil
			case m < 512:
				return fmt.Errorf("layer tar: %w", io.ErrUnexpectedEOF)
			case bytes.Equal(w.buf[w.lo:w.lo+512], zeroBlock[:]):
				w.lo += 512
				return nil
			}
			return fmt.Errorf("layer tar: %w", tar.ErrHeader)
		}
		h, ok := parseHeader(blk)
		if !ok {
			w.fallback = true
			return nil
		}
		w.lo += 512
		data := h.size
		switch h.typ {
		case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
			data = 0
		}
		// Copied out of the header block before the data moves the buffer.
		name, link := text(&w.name, h.prefix, h.name), text(&w.link, nil, h.linkname)
		typ := h.typ
		//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
		if typ == tar.TypeRegA && strings.HasSuffix(name, "/") {
			typ = tar.TypeDir
		}
		pad := int(-data & 511)
		if !entryOf(&e, w.seed, name, typ, h.size, h.mode, int(h.uid), int(h.gid), time.Unix(h.mtime, 0).UnixNano(), link, &w.target) {
			if err := w.skip(data); err != nil {
				return fmt.Errorf("layer tar: %w", err)
			}
			if end, err := w.pad(pad); end || err != nil {
				return err
			}
			continue
		}
		if e.Type == tar.TypeReg {
			if w.tap != nil && w.tap.Wants(&e) {
				if e.Hash, err = w.tapped(&e, data); err != nil {
					return fmt.Errorf("layer tar: %s: %w", e.Name, err)
				}
			} else if w.lazyMin > 0 && data >= w.lazyMin {
				e.Lazy, e.Offset = true, w.pos()
				if err := w.skip(data); err != nil {
					return fmt.Errorf("layer tar: %s: %w", e.Name, err)
				}
			} else {
				if e.Hash, err = w.hash(data); err != nil {
					return fmt.Errorf("layer tar: %s: %w", e.Name, err)
				}
			}
			data = 0
		}
		if err := w.skip(data); err != nil {
			return fmt.Errorf("layer tar: %w", err)
		}
		if err := w.fn(&e); err != nil {
			return err
		}
		if end, err := w.pad(pad); end || err != nil {
			return err
		}
	}
}

// pad passes the padding after an entry's data; a stream that ends in it
// ends the tar, as for archive/tar.
func (w *walker) pad(n int) (end bool, err error) {
	m, err := w.fill(n)
	if err != nil {
		return true, fmt.Errorf("layer tar: %w", err)
	}
	if m < n {
		w.lo = w.hi
		return true, nil
	}
	w.lo += n
	return false, nil
}

// header is a parsed header block; its byte fields are in the block.
type header struct {
	name, prefix, linkname []byte
	typ                    byte
	size, mode, uid, gid   int64
	mtime                  int64
}

// parseHeader reads a ustar (not star) or GNU header the way archive/tar
// does; ok is false for anything else, left to archive/tar.
func parseHeader(b []byte) (h header, ok bool) {
	sum, ok := octal(b[148:156])
	if !ok {
		return h, false
	}
	if sum != unsignedSum(b) && sum != signedSum(b) {
		return h, false
	}
	magic := string(b[257:265])
	gnu := magic == "ustar  \x00"
	if !gnu && (magic != "ustar\x0000" || string(b[508:512]) == "tar\x00") {
		return h, false
	}
	h.typ = b[156]
	switch h.typ {
	//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
	case tar.TypeReg, tar.TypeRegA, tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo, tar.TypeCont:
	default:
		return h, false
	}
	var o1, o2, o3, o4, o5, o6, o7 bool
	h.mode, o1 = octal(b[100:108])
	h.uid, o2 = octal(b[108:116])
	h.gid, o3 = octal(b[116:124])
	h.size, o4 = octal(b[124:136])
	h.mtime, o5 = octal(b[136:148])
	_, o6 = octal(b[329:337])
	_, o7 = octal(b[337:345])
	if !(o1 && o2 && o3 && o4 && o5 && o6 && o7) {
		return h, false
	}
	if gnu {
		// archive/tar reads atime and ctime there, and treats the
		// fields as a prefix if they do not parse: leave that to it.
		if b[345] != 0 {
			if _, ok := octal(b[345:357]); !ok {
				return h, false
			}
		}
		if b[357] != 0 {
			if _, ok := octal(b[357:369]); !ok {
				return h, false
			}
		}
	}
	h.name = cstring(b[0:100])
	h.linkname = cstring(b[157:257])
	if !gnu {
		h.prefix = cstring(b[345:500])
	}
	return h, true
}

// octal parses a numeric field as archive/tar's parseOctal does; base-256
// fields and anything odd report !ok.
func octal(b []byte) (int64, bool) {
	i, j := 0, len(b)
	for i < j && (b[i] == ' ' || b[i] == 0) {
		i++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == 0) {
		j--
	}
	var v int64
	for _, c := range b[i:j] {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v<<3 | int64(c-'0')
	}
	return v, true
}

// cstring is a NUL-terminated field.
func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return b
}

// text copies prefix/s (s alone without a prefix) into buf and returns it
// as a string, valid until buf is written again.
func text(buf *[]byte, prefix, s []byte) string {
	b := (*buf)[:0]
	if len(prefix) > 0 {
		b = append(append(b, prefix...), '/')
	}
	b = append(b, s...)
	*buf = b
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// unsignedSum is the header checksum: the bytes summed, the checksum
// field counted as spaces. It adds eight bytes at a time, in 16-bit lanes
// (at most 64*2*255 each, no overflow).
func unsignedSum(b []byte) int64 {
	b = b[:512]
	var acc uint64
	for i := 0; i < 512; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		acc += x&0x00ff00ff00ff00ff + (x>>8)&0x00ff00ff00ff00ff
	}
	acc = acc&0x0000ffff0000ffff + (acc>>16)&0x0000ffff0000ffff
	u := int64(acc&0xffffffff + acc>>32)
	for _, c := range b[148:156] {
		u -= int64(c)
	}
	return u + 8*' '
}

// signedSum is the checksum some old tars wrote, of the bytes as int8.
func signedSum(b []byte) int64 {
	var s int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		s += int64(int8(c))
	}
	return s
}

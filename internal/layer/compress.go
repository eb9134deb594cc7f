// Package layer is the tar codec of image layers: compression, digests,
// applying a layer inside a root and producing one from changes.
package layer

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Compression is how a layer blob is compressed.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
	Bzip2
	Xz
)

func (c Compression) String() string {
	return [...]string{"none", "gzip", "zstd", "bzip2", "xz"}[c]
}

// ParseCompression reads a --compression flag value.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "none", "uncompressed", "":
		return Uncompressed, nil
	case "gzip":
		return Gzip, nil
	case "zstd":
		return Zstd, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want gzip, zstd or none)", s)
}

var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Bzip2, []byte("BZh")},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
}

// Detect tells the compression of a stream from its first bytes.
func Detect(head []byte) Compression {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c
		}
	}
	return Uncompressed
}

// Decompress returns the uncompressed stream of r, whatever its compression,
// and the compression it found.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF {
		return nil, 0, err
	}
	c := Detect(head)
	rc, err := NewReader(br, c)
	return rc, c, err
}

// NewReader decompresses r known to be in compression c.
func NewReader(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case Uncompressed:
		return io.NopCloser(r), nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	}
	return nil, fmt.Errorf("%s compressed tarballs are not supported (use gzip, zstd or none)", c)
}

// NewWriter compresses into w with compression c; level 0 is the default.
func NewWriter(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c {
	case Uncompressed:
		return nopWriteCloser{w}, nil
	case Gzip:
		if level == 0 {
			level = gzip.DefaultCompression
		}
		return gzip.NewWriterLevel(w, level)
	case Zstd:
		lvl := zstd.SpeedDefault
		if level != 0 {
			lvl = zstd.EncoderLevelFromZstd(level)
		}
		return zstd.NewWriter(w, zstd.WithEncoderLevel(lvl))
	}
	return nil, fmt.Errorf("cannot write %s", c)
}

// NewParallelWriter is NewWriter on every core, for converting a whole
// layer at once (push, save): gzip in independent 256 KiB blocks (pgzip,
// whose bytes depend on the level and block size, not on the number of
// cores), zstd with one encoder per core.
func NewParallelWriter(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	if c != Gzip {
		return NewWriter(w, c, level)
	}
	if level == 0 {
		level = pgzip.DefaultCompression
	}
	zw, err := pgzip.NewWriterLevel(w, level)
	if err == nil {
		err = zw.SetConcurrency(256<<10, runtime.GOMAXPROCS(0))
	}
	return zw, err
}

// CheckLevel checks a --compression-level for compression c: gzip takes
// 1 to 9, zstd 1 to 22 (what gzip(1) and zstd(1) take); 0 is the default.
func CheckLevel(c Compression, level int) error {
	max := map[Compression]int{Gzip: 9, Zstd: 22}[c]
	if level == 0 || (level >= 1 && level <= max) {
		return nil
	}
	if max == 0 {
		return fmt.Errorf("a compression level needs gzip or zstd, not %s", c)
	}
	return fmt.Errorf("invalid compression level %d for %s (want 1 to %d)", level, c, max)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

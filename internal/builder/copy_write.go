package builder

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// itemsWriter is the fill function of writeLayer for planned entries.
func (b *builder) itemsWriter(items []tarItem) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := b.writeItems(tw, items); err != nil {
			return err
		}
		return tw.Close()
	}
}

// writeItems writes the planned entries.
func (b *builder) writeItems(tw *tar.Writer, items []tarItem) error {
	clamp := func(t time.Time) time.Time {
		t = t.Truncate(time.Second)
		if b.o.Timestamp != nil && t.After(*b.o.Timestamp) {
			return b.o.Timestamp.Truncate(time.Second)
		}
		return t
	}
	for _, it := range items {
		hdr := &tar.Header{Name: it.name, Mode: it.mode, Uid: it.uid, Gid: it.gid, ModTime: clamp(it.mtime), Format: tar.FormatPAX}
		var body io.Reader
		switch {
		case it.isDir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, it.name+"/"
		case it.link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, it.link
		case it.data != nil:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(it.data))
			body = bytes.NewReader(it.data)
		case it.arch != nil:
			a := it.arch
			hdr.Typeflag, hdr.Linkname, hdr.Size = a.hdr.Typeflag, a.hdr.Linkname, a.hdr.Size
			hdr.Devmajor, hdr.Devminor = a.hdr.Devmajor, a.hdr.Devminor
			if hdr.Typeflag == tar.TypeDir {
				hdr.Name += "/"
			}
			//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
			if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
				hdr.Typeflag = tar.TypeReg
				body = bytes.NewReader(nil)
				if a.open != nil {
					rc, err := a.open()
					if err != nil {
						return err
					}
					body = &closingReader{rc, rc}
				}
			}
		default:
			e := it.e
			switch e.Stat.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				hdr.Typeflag, hdr.Size = tar.TypeReg, e.Stat.Size
				f, err := os.Open(e.Abs)
				if err != nil {
					return err
				}
				body = &closingReader{io.LimitReader(f, e.Stat.Size), f}
			case unix.S_IFDIR:
				hdr.Typeflag, hdr.Name = tar.TypeDir, it.name+"/"
			case unix.S_IFLNK:
				t, err := os.Readlink(e.Abs)
				if err != nil {
					return err
				}
				hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, t
			case unix.S_IFIFO:
				hdr.Typeflag = tar.TypeFifo
			case unix.S_IFCHR, unix.S_IFBLK:
				hdr.Typeflag = tar.TypeChar
				if e.Stat.Mode&unix.S_IFMT == unix.S_IFBLK {
					hdr.Typeflag = tar.TypeBlock
				}
				hdr.Devmajor, hdr.Devminor = int64(unix.Major(e.Stat.Rdev)), int64(unix.Minor(e.Stat.Rdev))
			default:
				continue // sockets
			}
		}
		// USTAR when it can hold the header, as docker writes.
		hdr.Format = tar.FormatUnknown
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", it.name, err)
		}
		if body != nil {
			n, err := io.Copy(tw, body)
			if c, ok := body.(*closingReader); ok {
				c.c.Close()
			}
			if err != nil {
				return fmt.Errorf("%s: %w", it.name, err)
			}
			if n != hdr.Size {
				return fmt.Errorf("%s: file changed size while being read", it.name)
			}
		}
	}
	return nil
}

// closingReader is a file's content, closed once copied (not deferred: a
// layer may hold more files than a process may keep open).
type closingReader struct {
	io.Reader
	c io.Closer
}

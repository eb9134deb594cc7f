package sbom

import (
	"bytes"
	"io"
	"os"
)

// maxInMemory is the biggest file a cataloger that needs random access
// (debug/buildinfo, go-rpmdb) reads into memory; a bigger one is copied
// to a temporary file instead, so that a 2 GiB binary costs disk, not
// memory, and is still read.
var maxInMemory int64 = 32 << 20

// spooled is the content of one file with random access: in buf, or in a
// temporary file that Close removes.
type spooled struct {
	io.ReaderAt
	file *os.File
}

// spool reads the size bytes of r (head first: bytes already read from
// it) into buf, or into a temporary file when size is above maxInMemory.
func spool(head []byte, size int64, r io.Reader, buf *bytes.Buffer) (*spooled, error) {
	if size <= maxInMemory {
		buf.Reset()
		buf.Grow(int(size))
		buf.Write(head)
		if _, err := io.Copy(buf, r); err != nil {
			return nil, err
		}
		return &spooled{ReaderAt: bytes.NewReader(buf.Bytes())}, nil
	}
	f, err := os.CreateTemp("", "strata-sbom-*")
	if err != nil {
		return nil, err
	}
	s := &spooled{ReaderAt: f, file: f}
	if _, err := f.Write(head); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := io.Copy(f, r); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// path is a file holding the content, for readers that open a path
// (go-rpmdb): the temporary file, or one written from buf now.
func (s *spooled) path(buf *bytes.Buffer) (string, error) {
	if s.file == nil {
		f, err := os.CreateTemp("", "strata-sbom-*")
		if err != nil {
			return "", err
		}
		s.file = f
		if _, err := f.Write(buf.Bytes()); err != nil {
			return "", err
		}
	}
	return s.file.Name(), nil
}

// Close removes the temporary file, if any.
func (s *spooled) Close() error {
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	s.file.Close()
	return os.Remove(name)
}

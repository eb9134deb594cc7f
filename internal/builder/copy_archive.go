package builder

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ulikunitz/xz"

	"github.com/strata-dev/strata/internal/layer"
)

// archiveEntry is one entry of a local archive ADD extracts.
type archiveEntry struct {
	name string
	hdr  *tar.Header
	open func() (io.ReadCloser, error)
}

// readArchive lists a local tar (plain, gzip, bzip2, xz or zstd, known by
// their magic numbers, not the file's name) that ADD extracts; nil if the
// file is not an archive. The
// contents are read again from the file when written, so a big archive is
// not held in memory.
func readArchive(file string) ([]*archiveEntry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return nil, nil
	}
	defer r.Close()
	tr := tar.NewReader(r)
	var out []*archiveEntry
	idx := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if idx == 0 {
				return nil, nil // not a tar: copied as a file
			}
			return nil, fmt.Errorf("ADD %s: %w", filepath.Base(file), err)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if err := layer.CheckName(hdr.Name); err != nil || name == "" {
			idx++
			continue
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		n := idx
		out = append(out, &archiveEntry{name: name, hdr: hdr, open: func() (io.ReadCloser, error) { return archiveMember(file, n) }})
		idx++
	}
	if idx == 0 {
		return nil, nil
	}
	return out, nil
}

// archiveMember opens the content of the n-th entry of an archive.
func archiveMember(file string, n int) (io.ReadCloser, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	r, err := decompress(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	tr := tar.NewReader(r)
	for i := 0; ; i++ {
		if _, err := tr.Next(); err != nil {
			r.Close()
			f.Close()
			return nil, err
		}
		if i == n {
			return struct {
				io.Reader
				io.Closer
			}{tr, multiCloser{r, f}}, nil
		}
	}
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	for _, c := range m {
		c.Close()
	}
	return nil
}

// xzMagic starts an xz stream. Layers are never xz, so internal/layer
// does not read it; docker's ADD does.
var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

// decompress reads an archive in whichever compression ADD extracts.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(len(xzMagic))
	if err != nil && err != io.EOF {
		return nil, err
	}
	if bytes.Equal(head, xzMagic) {
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(xr), nil
	}
	rc, _, err := layer.Decompress(br)
	return rc, err
}

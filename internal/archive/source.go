package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/layer"
)

// Open opens an archive file (docker-archive or oci-archive, compressed or
// not) or, as "oci:DIR", an OCI layout directory. A tar file is indexed once
// and its entries are then read in place; a compressed one is first
// decompressed to an unlinked temporary file.
func Open(p string) (Source, error) {
	if dir, ok := strings.CutPrefix(p, "oci:"); ok {
		return openDir(dir)
	}
	return openTar(p)
}

type tarEntry struct {
	off, size int64
	link      string // resolved target of a link, "" for a regular file
}

type tarSource struct {
	f       *os.File
	entries map[string]*tarEntry
	images  []Image
	blobs   map[digest.Digest]string
}

// posReader tells tar.Reader it can seek (so it skips data without reading
// it) and tracks the offset, which after Next is where the data starts.
type posReader struct {
	f   *os.File
	pos int64
}

func (r *posReader) Read(p []byte) (int, error) {
	n, err := r.f.ReadAt(p, r.pos)
	r.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (r *posReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		r.pos = off
	case io.SeekCurrent:
		r.pos += off
	case io.SeekEnd:
		fi, err := r.f.Stat()
		if err != nil {
			return 0, err
		}
		r.pos = fi.Size() + off
	}
	return r.pos, nil
}

func openTar(p string) (_ Source, err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	head := make([]byte, 6)
	n, _ := io.ReadFull(f, head)
	if c := layer.Detect(head[:n]); c != layer.Uncompressed {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		tmp, err := os.CreateTemp("", "strata-archive-")
		if err != nil {
			return nil, err
		}
		os.Remove(tmp.Name())
		zr, err := layer.NewReader(bufio.NewReaderSize(f, 1<<20), c)
		if err == nil {
			_, err = io.CopyBuffer(tmp, zr, make([]byte, 1<<20))
			zr.Close()
		}
		f.Close()
		if err != nil {
			tmp.Close()
			return nil, fmt.Errorf("decompress %s: %w", p, err)
		}
		f = tmp
	}
	s := &tarSource{f: f, entries: map[string]*tarEntry{}, blobs: map[digest.Digest]string{}}
	pr := &posReader{f: f}
	tr := tar.NewReader(pr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid archive: %v", err)
		}
		e, name, err := entryOf(hdr)
		if err != nil {
			return nil, err
		}
		if e == nil {
			continue
		}
		if _, dup := s.entries[name]; dup {
			return nil, fmt.Errorf("invalid archive: %s appears twice", name)
		}
		if e.link == "" {
			e.off = pr.pos
		}
		s.entries[name] = e
	}
	raws, err := parseArchive(s)
	if err != nil {
		return nil, err
	}
	s.images, err = sourceImages(raws, s.blobs, func(name string) (io.Reader, int64) {
		e := s.entries[name]
		return io.NewSectionReader(f, e.off, e.size), e.size
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// entryOf checks a tar header and returns the entry it makes (nil for a
// directory) and its canonical name.
func entryOf(hdr *tar.Header) (*tarEntry, string, error) {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return nil, "", err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return nil, "", nil
	//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
	case tar.TypeReg, tar.TypeRegA:
		return &tarEntry{size: hdr.Size}, name, nil
	case tar.TypeSymlink, tar.TypeLink:
		if strings.HasPrefix(name, "blobs/") {
			return nil, "", fmt.Errorf("invalid archive: blob %s is a link", name)
		}
		t, err := linkTarget(name, hdr.Linkname, hdr.Typeflag == tar.TypeLink)
		if err != nil {
			return nil, "", fmt.Errorf("invalid archive: %w", err)
		}
		return &tarEntry{link: t}, name, nil
	}
	return nil, "", fmt.Errorf("invalid archive: %s has unsupported type %q", name, hdr.Typeflag)
}

func (s *tarSource) resolve(name string) (string, error) {
	return resolveIn(name, func(n string) (string, bool) {
		e := s.entries[n]
		if e == nil {
			return "", false
		}
		return e.link, true
	})
}

// resolveIn follows links (at most 16) to a regular file.
func resolveIn(name string, get func(string) (link string, ok bool)) (string, error) {
	n := name
	for range 16 {
		link, ok := get(n)
		if !ok {
			return "", fmt.Errorf("%s is not in the archive", name)
		}
		if link == "" {
			return n, nil
		}
		n = link
	}
	return "", fmt.Errorf("invalid archive: too many links resolving %s", name)
}

func (s *tarSource) small(name string) ([]byte, error) {
	e := s.entries[name]
	if e.size > maxSmall {
		return nil, fmt.Errorf("invalid archive: %s is too large (%d bytes)", name, e.size)
	}
	b := make([]byte, e.size)
	if _, err := s.f.ReadAt(b, e.off); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

func (s *tarSource) Images() []Image { return s.images }

// configBlob serves a config from memory (a docker-archive keeps it as
// <hex>.json, not under blobs/).
func configBlob(imgs []Image, d digest.Digest) io.ReadCloser {
	for _, im := range imgs {
		if im.ConfigDigest == d {
			return io.NopCloser(bytes.NewReader(im.Config))
		}
	}
	return nil
}

func (s *tarSource) OpenBlob(d digest.Digest) (io.ReadCloser, error) {
	if rc := configBlob(s.images, d); rc != nil {
		return rc, nil
	}
	sr, err := s.section(d)
	if err != nil {
		return nil, err
	}
	return verifying(sr, d), nil
}

// OpenBlobUnverified implements UnverifiedOpener: the blob's bytes read in
// place, seekable.
func (s *tarSource) OpenBlobUnverified(d digest.Digest) (io.ReadCloser, error) {
	if rc := configBlob(s.images, d); rc != nil {
		return rc, nil
	}
	sr, err := s.section(d)
	if err != nil {
		return nil, err
	}
	return sectionCloser{sr}, nil
}

// sectionCloser is a blob read in place from the archive file, which the
// Source closes.
type sectionCloser struct{ *io.SectionReader }

func (sectionCloser) Close() error { return nil }

// section finds blob d's bytes in the archive file.
func (s *tarSource) section(d digest.Digest) (*io.SectionReader, error) {
	name, ok := s.blobs[d]
	if !ok {
		if d.Validate() != nil {
			return nil, fmt.Errorf("invalid digest %q", d)
		}
		n, err := s.resolve(blobPath(d))
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", d, err)
		}
		name = n
	}
	e := s.entries[name]
	return io.NewSectionReader(s.f, e.off, e.size), nil
}

func (s *tarSource) Close() error { return s.f.Close() }

// UnverifiedOpener is an optional capability of a Source, for read-only
// uses that store nothing (layer analysis). OpenBlobUnverified reads a blob
// without checking it against its digest; the reader it returns can also
// Seek and ReadAt (except for a config, served from memory), so that big
// file contents are skipped instead of read.
//
// Why that is safe: the digest check guards the store (invariant 1: a blob
// is named by the sha256 of its bytes). Bytes read this way never reach the
// store; a damaged archive can at worst make a wrong report about the file
// the user gave, and a truncated or corrupt tar still fails the reading.
// Anything that stores a blob (load) must use OpenBlob.
type UnverifiedOpener interface {
	OpenBlobUnverified(d digest.Digest) (io.ReadCloser, error)
}

// sourceImages completes the archive's images with each layer's digest:
// the layer's descriptor in an OCI layout; for a docker-archive, its
// diffID when the layer is an uncompressed tar, else the hash of the blob.
func sourceImages(raws []rawImage, blobs map[digest.Digest]string, open func(name string) (io.Reader, int64)) ([]Image, error) {
	var out []Image
	for _, r := range raws {
		im := Image{Names: r.names, Config: r.config, ConfigDigest: r.configDigest, ManifestDigest: r.manifestDigest}
		for _, l := range r.layers {
			rd, size := open(l.path)
			L := Layer{DiffID: l.diffID, Size: size}
			if l.desc.Digest != "" {
				L.Digest, L.MediaType = l.desc.Digest, l.desc.MediaType
				if l.desc.Size != size {
					return nil, fmt.Errorf("invalid archive: layer %s has %d bytes, its manifest says %d", l.desc.Digest, size, l.desc.Size)
				}
			} else {
				// Six bytes tell the compression: no buffer of the
				// layer is filled only to look at them.
				head := make([]byte, 6)
				n, _ := io.ReadFull(rd, head)
				c := layer.Detect(head[:n])
				L.MediaType = mediaType(c)
				if c == layer.Uncompressed {
					L.Digest = l.diffID
				} else {
					h := digest.SHA256.Digester()
					h.Hash().Write(head[:n])
					if _, err := io.CopyBuffer(h.Hash(), rd, make([]byte, 64<<10)); err != nil {
						return nil, err
					}
					L.Digest = h.Digest()
				}
			}
			blobs[L.Digest] = l.path
			im.Layers = append(im.Layers, L)
		}
		out = append(out, im)
	}
	return out, nil
}

func mediaType(c layer.Compression) string {
	switch c {
	case layer.Gzip:
		return ocispec.MediaTypeImageLayerGzip
	case layer.Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayer
}

// verifyReader fails at EOF if what it read does not match its digest.
type verifyReader struct {
	r io.Reader
	v digest.Verifier
	d digest.Digest
}

func verifying(r io.Reader, d digest.Digest) io.ReadCloser {
	return &verifyReader{r: r, v: d.Verifier(), d: d}
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.v.Write(p[:n])
	if err == io.EOF && !v.v.Verified() {
		return n, fmt.Errorf("blob %s in the archive does not match its digest", v.d)
	}
	return n, err
}

func (v *verifyReader) Close() error {
	if c, ok := v.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// dirSource is an OCI layout directory, read through os.Root so that no
// link leads out of it.
type dirSource struct {
	root   *os.Root
	images []Image
}

func openDir(dir string) (Source, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	s := &dirSource{root: root}
	raws, err := parseOCI(s)
	if err == nil {
		var files []*os.File
		s.images, err = sourceImages(raws, map[digest.Digest]string{}, func(name string) (io.Reader, int64) {
			f, err := root.Open(name)
			if err != nil {
				return strings.NewReader(""), 0
			}
			files = append(files, f)
			fi, _ := f.Stat()
			return f, fi.Size()
		})
		for _, f := range files {
			f.Close()
		}
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	return s, nil
}

func (s *dirSource) resolve(name string) (string, error) {
	fi, err := s.root.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s is not in the layout", name)
	}
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", name)
	}
	return name, nil
}

func (s *dirSource) small(name string) ([]byte, error) {
	f, err := s.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSmall+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSmall {
		return nil, fmt.Errorf("%s is too large", name)
	}
	return b, nil
}

func (s *dirSource) Images() []Image { return s.images }

func (s *dirSource) OpenBlob(d digest.Digest) (io.ReadCloser, error) {
	if rc := configBlob(s.images, d); rc != nil {
		return rc, nil
	}
	if d.Validate() != nil {
		return nil, fmt.Errorf("invalid digest %q", d)
	}
	f, err := s.root.Open(blobPath(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return verifying(f, d), nil
}

// OpenBlobUnverified implements UnverifiedOpener: the blob file itself.
func (s *dirSource) OpenBlobUnverified(d digest.Digest) (io.ReadCloser, error) {
	if rc := configBlob(s.images, d); rc != nil {
		return rc, nil
	}
	if d.Validate() != nil {
		return nil, fmt.Errorf("invalid digest %q", d)
	}
	f, err := s.root.Open(blobPath(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return f, nil
}

func (s *dirSource) Close() error { return s.root.Close() }

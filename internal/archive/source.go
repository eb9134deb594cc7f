package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/store"
)

// Archive is an archive file or an OCI layout directory opened for reading.
// Its images are image.Sources that read their blobs from it; closing the
// Archive closes them all.
type Archive struct {
	files  blobFiles
	images []*archiveImage
}

// blobFiles is where an Archive's blobs are: a tar file read in place or a
// layout directory.
type blobFiles interface {
	// open reads blob d as it is in the archive, unverified, with its
	// size; the reader can Seek and ReadAt.
	open(d digest.Digest) (io.ReadCloser, int64, error)
	Close() error
}

// Open opens an archive file (docker-archive or oci-archive, compressed or
// not) or, as "oci:DIR", an OCI layout directory. A tar file is indexed once
// and its entries are then read in place; a compressed one is first
// decompressed to an unlinked temporary file.
func Open(p string) (*Archive, error) {
	if dir, ok := strings.CutPrefix(p, "oci:"); ok {
		return openDir(dir)
	}
	return openTar(p)
}

// OpenImage opens the archive or layout p (as Open does) and returns one of
// its images, chosen by Image(pick); closing that Source closes the archive.
func OpenImage(p, pick string) (image.Source, error) {
	a, err := Open(p)
	if err != nil {
		return nil, err
	}
	src, err := a.image(pick)
	if err != nil {
		a.Close()
		return nil, err
	}
	owned := *src
	owned.owner = a
	return &owned, nil
}

// Images lists the archive's images, in the archive's order.
func (a *Archive) Images() []image.Source {
	out := make([]image.Source, len(a.images))
	for i, im := range a.images {
		out[i] = im
	}
	return out
}

// Image picks one image, as skopeo's docker-archive:PATH:REF does: "" is
// the first, "@N" the Nth from 0, anything else a name the image has
// (busybox:1 and docker.io/library/busybox:1 are the same name).
func (a *Archive) Image(pick string) (image.Source, error) {
	im, err := a.image(pick)
	if err != nil {
		return nil, err
	}
	return im, nil
}

func (a *Archive) image(pick string) (*archiveImage, error) {
	if len(a.images) == 0 {
		return nil, errors.New("the archive holds no image")
	}
	if pick == "" {
		return a.images[0], nil
	}
	if n, ok := strings.CutPrefix(pick, "@"); ok {
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 || i >= len(a.images) {
			return nil, fmt.Errorf("the archive holds %d images, not image %s", len(a.images), pick)
		}
		return a.images[i], nil
	}
	ref, err := image.ParseReference(pick)
	if err != nil {
		return nil, err
	}
	for _, im := range a.images {
		for _, n := range im.names {
			if n == ref.String() {
				return im, nil
			}
		}
	}
	return nil, fmt.Errorf("the archive has no image named %s", pick)
}

// Close closes the archive file or layout directory.
func (a *Archive) Close() error { return a.files.Close() }

// archiveImage is one image of an Archive.
type archiveImage struct {
	a        *Archive
	names    []string // full references
	config   image.Config
	manifest image.Manifest
	layers   []image.Layer
	owner    io.Closer // the Archive, when this Source was opened alone
}

func (im *archiveImage) Name() string {
	if len(im.names) == 0 {
		return ""
	}
	return im.names[0]
}

func (im *archiveImage) Config() image.Config     { return im.config }
func (im *archiveImage) Manifest() image.Manifest { return im.manifest }
func (im *archiveImage) Layers() []image.Layer    { return im.layers }

// Close closes the archive when the image was opened alone (OpenImage);
// an image of Archive.Images is closed with its Archive.
func (im *archiveImage) Close() error {
	if im.owner != nil {
		return im.owner.Close()
	}
	return nil
}

// inMemory serves the config (a docker-archive keeps it as <hex>.json, not
// under blobs/) and the manifest (which a docker 20.10 archive does not
// have: it is made from the config and layers) from memory.
func (im *archiveImage) inMemory(d digest.Digest) (io.ReadCloser, bool) {
	switch d {
	case im.config.Digest:
		return io.NopCloser(bytes.NewReader(im.config.Raw)), true
	case im.manifest.Digest:
		return io.NopCloser(bytes.NewReader(im.manifest.Raw)), true
	}
	return nil, false
}

// OpenBlob serves the image's config, manifest and layers, and any
// blobs/sha256/<hex> entry of the archive, checked against d.
func (im *archiveImage) OpenBlob(_ context.Context, d digest.Digest) (io.ReadCloser, error) {
	if rc, ok := im.inMemory(d); ok {
		return rc, nil
	}
	rc, size, err := im.a.files.open(d)
	if err != nil {
		return nil, err
	}
	return image.Verify(rc, d, size), nil
}

// OpenBlobUnverified implements image.UnverifiedOpener: the blob's bytes
// read in place, seekable.
func (im *archiveImage) OpenBlobUnverified(_ context.Context, d digest.Digest) (io.ReadCloser, error) {
	if rc, ok := im.inMemory(d); ok {
		return rc, nil
	}
	rc, _, err := im.a.files.open(d)
	return rc, err
}

// notFound is OpenBlob's error for a blob the archive does not hold.
func notFound(d digest.Digest, err error) error {
	return fmt.Errorf("blob %s: %w (%v)", d, image.ErrBlobNotFound, err)
}

type tarEntry struct {
	off, size int64
	link      string // resolved target of a link, "" for a regular file
}

type tarSource struct {
	f       *os.File
	entries map[string]*tarEntry
	blobs   map[digest.Digest]string // docker-archive layers by blob digest
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

func openTar(p string) (_ *Archive, err error) {
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
	a := &Archive{files: s}
	a.images, err = sourceImages(a, raws, s.blobs, func(name string) (io.Reader, int64) {
		e := s.entries[name]
		return io.NewSectionReader(f, e.off, e.size), e.size
	})
	if err != nil {
		return nil, err
	}
	return a, nil
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

// sectionCloser is a blob read in place from the archive file, which the
// Archive closes.
type sectionCloser struct{ *io.SectionReader }

func (sectionCloser) Close() error { return nil }

func (s *tarSource) open(d digest.Digest) (io.ReadCloser, int64, error) {
	name, ok := s.blobs[d]
	if !ok {
		if d.Validate() != nil {
			return nil, 0, fmt.Errorf("invalid digest %q", d)
		}
		n, err := s.resolve(blobPath(d))
		if err != nil {
			return nil, 0, notFound(d, err)
		}
		name = n
	}
	e := s.entries[name]
	return sectionCloser{io.NewSectionReader(s.f, e.off, e.size)}, e.size, nil
}

func (s *tarSource) Close() error { return s.f.Close() }

// sourceImages completes the archive's images with each layer's digest:
// the layer's descriptor in an OCI layout; for a docker-archive, its
// diffID when the layer is an uncompressed tar, else the hash of the blob.
func sourceImages(a *Archive, raws []rawImage, blobs map[digest.Digest]string, open func(name string) (io.Reader, int64)) ([]*archiveImage, error) {
	var out []*archiveImage
	for _, r := range raws {
		cfg, err := image.NewConfig(r.config)
		if err != nil {
			return nil, err
		}
		im := &archiveImage{a: a, names: r.names, config: cfg}
		for _, l := range r.layers {
			rd, size := open(l.path)
			L := image.Layer{DiffID: l.diffID, Size: size}
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
				L.MediaType = store.LayerMediaType(c)
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
			if L.Digest == L.DiffID {
				L.UncompressedSize = size
			}
			blobs[L.Digest] = l.path
			im.layers = append(im.layers, L)
		}
		if r.manifest != nil {
			im.manifest, err = image.NewManifest(r.manifest)
		} else {
			im.manifest, err = image.ManifestOf(cfg, im.layers)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}

// dirSource is an OCI layout directory, read through os.Root so that no
// link leads out of it.
type dirSource struct {
	root *os.Root
}

func openDir(dir string) (*Archive, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	s := &dirSource{root: root}
	a := &Archive{files: s}
	raws, err := parseOCI(s, nil)
	if err == nil {
		var files []*os.File
		a.images, err = sourceImages(a, raws, map[digest.Digest]string{}, func(name string) (io.Reader, int64) {
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
	return a, nil
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

func (s *dirSource) open(d digest.Digest) (io.ReadCloser, int64, error) {
	if d.Validate() != nil {
		return nil, 0, fmt.Errorf("invalid digest %q", d)
	}
	name, err := s.resolve(blobPath(d))
	if err != nil {
		return nil, 0, notFound(d, err)
	}
	f, err := s.root.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func (s *dirSource) Close() error { return s.root.Close() }

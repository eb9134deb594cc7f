package store

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

// Source opens the stored image ref (a name or an ID) as an image.Source
// named ref.
func (s *Store) Source(ref string) (image.Source, error) {
	im, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return s.ImageSource(im, ref)
}

// ImageSource reads the image record im as an image.Source named name.
// Its blobs are read through Store.OpenBlob, so a layer kept only as its
// snapshot is read like any other. Until it is closed, the Source holds the
// store's writing lock (shared), so that no garbage collection removes a
// blob it is reading (save, push); do not collect garbage in the same
// process while one is open.
func (s *Store) ImageSource(im *metadata.Image, name string) (_ image.Source, err error) {
	lk, err := s.Writing()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lk.Unlock()
		}
	}()
	cb, err := s.Content.ReadAll(im.Config.Digest, image.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", im.ID, err)
	}
	cfg, err := image.NewConfig(cb)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", im.ID, err)
	}
	mb, err := s.Content.ReadAll(im.Manifest.Digest, image.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", im.ID, err)
	}
	m, err := image.NewManifest(mb)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", im.ID, err)
	}
	src := &storeSource{s: s, lock: lk, rec: im, name: name, config: cfg, manifest: m, sizes: map[digest.Digest]int64{}}
	for _, l := range im.Layers {
		src.layers = append(src.layers, image.Layer{Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size, UncompressedSize: l.UncompressedSize})
		src.sizes[l.Digest] = l.Size
	}
	return src, nil
}

// storeSource is an image of the store.
type storeSource struct {
	s        *Store
	lock     *Lock
	closed   sync.Once
	rec      *metadata.Image
	name     string
	config   image.Config
	manifest image.Manifest
	layers   []image.Layer
	sizes    map[digest.Digest]int64
}

func (ss *storeSource) Name() string             { return ss.name }
func (ss *storeSource) Config() image.Config     { return ss.config }
func (ss *storeSource) Manifest() image.Manifest { return ss.manifest }
func (ss *storeSource) Layers() []image.Layer    { return ss.layers }

// Close releases the store's lock.
func (ss *storeSource) Close() error {
	ss.closed.Do(ss.lock.Unlock)
	return nil
}

// Record returns the store's record of src when src is an image of a
// store (push records the digest it pushed in it).
func Record(src image.Source) (*metadata.Image, bool) {
	if cs, ok := src.(*convertedSource); ok {
		src = cs.Source
	}
	ss, ok := src.(*storeSource)
	if !ok {
		return nil, false
	}
	return ss.rec, true
}

// OpenBlob reads a blob of the store, checked against d: the store checked
// it when it was written, but a Source's reader promises the check to
// whoever sends the bytes on.
func (ss *storeSource) OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	rc, err := ss.OpenBlobUnverified(ctx, d)
	if err != nil {
		return nil, err
	}
	size, ok := ss.sizes[d]
	if !ok {
		size = -1
	}
	return image.Verify(rc, d, size), nil
}

// OpenBlobUnverified implements image.UnverifiedOpener: the blob file
// itself, or a kept layer's tar as its snapshot writes it.
func (ss *storeSource) OpenBlobUnverified(_ context.Context, d digest.Digest) (io.ReadCloser, error) {
	rc, err := ss.s.OpenBlob(d)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %w", image.ErrBlobNotFound, err)
	}
	return rc, err
}

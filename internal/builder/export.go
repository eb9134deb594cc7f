package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/builder/progress"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// Output receives a built image that is not stored (--output): a Source
// whose config and manifest are the ones the store would have written and
// whose layers are read from the store. It is called while the build still
// holds the store, so no garbage collection removes a layer it reads.
type Output func(ctx context.Context, src image.Source) error

// export hands the target image to Options.Output instead of storing it,
// and returns the record the store would have made (not stored).
func (b *builder) export(ctx context.Context, v *progress.Vertex, cfg *image.ConfigFile, layers []metadata.Layer) (*metadata.Image, error) {
	src, err := newBuiltImage(b.st, cfg, layers)
	if err != nil {
		v.Error(err)
		return nil, err
	}
	if len(b.o.Tags) > 0 {
		src.name = b.o.Tags[0].String()
	}
	if err := b.o.Output(ctx, src); err != nil {
		v.Error(err)
		return nil, err
	}
	v.Note("exporting image " + src.config.Digest.String() + " done")
	v.Done()
	return &metadata.Image{ID: src.config.Digest, Manifest: src.manifest.Descriptor(),
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: src.config.Digest, Size: int64(len(src.config.Raw))},
		Layers: layers}, nil
}

// builtImage is an image.Source of a build's result that is not in the
// store: config and manifest in memory, as store.PutImage writes them (so
// the image has the ID it would have stored), layers from the store.
type builtImage struct {
	st       *store.Store
	name     string
	config   image.Config
	manifest image.Manifest
	layers   []image.Layer
	sizes    map[digest.Digest]int64
}

func newBuiltImage(st *store.Store, cfg *image.ConfigFile, layers []metadata.Layer) (*builtImage, error) {
	craw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(craw), Size: int64(len(craw))},
		Layers:    []ocispec.Descriptor{},
	}
	bi := &builtImage{st: st, sizes: map[digest.Digest]int64{}}
	for _, l := range layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
		bi.layers = append(bi.layers, image.Layer{Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size, UncompressedSize: l.UncompressedSize})
		bi.sizes[l.Digest] = l.Size
	}
	mraw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if bi.config, err = image.NewConfig(craw); err != nil {
		return nil, err
	}
	if bi.manifest, err = image.NewManifest(mraw); err != nil {
		return nil, err
	}
	return bi, nil
}

func (bi *builtImage) Name() string             { return bi.name }
func (bi *builtImage) Config() image.Config     { return bi.config }
func (bi *builtImage) Manifest() image.Manifest { return bi.manifest }
func (bi *builtImage) Layers() []image.Layer    { return bi.layers }
func (bi *builtImage) Close() error             { return nil }

// OpenBlob reads a layer (or the config or manifest), checked against d.
func (bi *builtImage) OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	rc, err := bi.OpenBlobUnverified(ctx, d)
	if err != nil {
		return nil, err
	}
	size, ok := bi.sizes[d]
	if !ok {
		size = -1
	}
	return image.Verify(rc, d, size), nil
}

// OpenBlobUnverified reads a blob as the store holds it (checked when it
// was written), so that an archive gets a stored layer by copy_file_range.
func (bi *builtImage) OpenBlobUnverified(_ context.Context, d digest.Digest) (io.ReadCloser, error) {
	for _, b := range []struct {
		d   digest.Digest
		raw []byte
	}{{bi.config.Digest, bi.config.Raw}, {bi.manifest.Digest, bi.manifest.Raw}} {
		if b.d == d {
			return io.NopCloser(bytes.NewReader(b.raw)), nil
		}
	}
	if _, ok := bi.sizes[d]; !ok {
		return nil, fmt.Errorf("%s: %w", d, image.ErrBlobNotFound)
	}
	rc, err := bi.st.OpenBlob(d)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %w", image.ErrBlobNotFound, err)
	}
	return rc, err
}

package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
)

// Conversion is what Recompress makes of an image's layers.
type Conversion struct {
	To    layer.Compression // layer.Gzip or layer.Zstd
	Level int               // 0: the compressor's default
	// LeaveUncompressed keeps uncompressed layers as they are: push sends
	// those gzip-compressed on its own (and remembers what it sent), so
	// a push --compression-format gzip sends the same blobs as a push.
	LeaveUncompressed bool
	// Converting, when set, is told of each layer before it is
	// compressed (not of those an earlier conversion already made).
	Converting func(image.Layer)
}

// Recompress returns src with its layers in compression o.To, for push and
// save --compression-format. A layer stored in another compression (or
// uncompressed, or kept as its snapshot) is converted once: the new blob
// is stored with a layer record and a Converted record (diffID,
// compression -> blob), and the next Recompress of any image with that
// layer finds it and compresses nothing. The image's config, and so its
// ID and diffIDs, stay; its manifest lists the new blobs (when one
// changed). A Docker schema 2 manifest cannot list a zstd layer (docker
// 20.10 reads none), so a zstd image gets an OCI manifest, as podman and
// skopeo do. src must stay open while the result is used; closing the
// result closes src.
func (s *Store) Recompress(ctx context.Context, src image.Source, o Conversion) (image.Source, error) {
	if o.To != layer.Gzip && o.To != layer.Zstd {
		return nil, fmt.Errorf("cannot recompress layers as %s", o.To)
	}
	layers := append([]image.Layer(nil), src.Layers()...)
	cs := &convertedSource{Source: src, s: s, blobs: map[digest.Digest]int64{}}
	changed := false
	for i, l := range layers {
		from := mediaTypeCompression(l.MediaType)
		if image.IsForeignLayer(l.MediaType) || from == o.To || (from == layer.Uncompressed && o.LeaveUncompressed) {
			continue
		}
		rec, err := s.convertLayer(func() (io.ReadCloser, error) { return src.OpenBlob(ctx, l.Digest) }, l, o)
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s) to %s: %w", i, l.Digest, o.To, err)
		}
		layers[i] = image.Layer{Digest: rec.Digest, DiffID: l.DiffID, Size: rec.Size, UncompressedSize: rec.UncompressedSize}
		cs.blobs[rec.Digest] = rec.Size
		changed = true
	}
	if !changed {
		return src, nil
	}
	man := src.Manifest()
	oci := man.MediaType == ocispec.MediaTypeImageManifest || o.To == layer.Zstd
	for i := range layers {
		layers[i].MediaType = layerMediaType(man.Layers[i].MediaType, layers[i].Digest != man.Layers[i].Digest, o.To, oci)
	}
	m, err := image.WithLayers(man, layers, oci)
	if err != nil {
		return nil, err
	}
	cs.manifest, cs.layers = m, layers
	return cs, nil
}

// convertLayer returns the record of layer l's blob in compression o.To:
// the one an earlier conversion stored, or a new one made from the blob
// open reads. The new blob becomes visible only complete (content.Writer):
// a failed or killed conversion leaves a temp file that the next
// collection removes, and no record.
func (s *Store) convertLayer(open func() (io.ReadCloser, error), l image.Layer, o Conversion) (metadata.Layer, error) {
	key := metadata.ConvertedKey(l.DiffID, o.To.String())
	var c metadata.Converted
	err := s.Meta.View(func(tx *metadata.Tx) error { return tx.Get(metadata.BucketConverted, key, &c) })
	if err == nil && s.Content.Has(c.Digest) {
		if rec, err := s.LayerRecord(c.Digest); err == nil && rec.DiffID == l.DiffID {
			return *rec, nil
		}
	} else if err != nil && !errdefs.IsNotFound(err) {
		return metadata.Layer{}, err
	}
	if o.Converting != nil {
		o.Converting(l)
	}
	// The writing lock keeps a collection from removing the new blob
	// before its records name it.
	lk, err := s.Writing()
	if err != nil {
		return metadata.Layer{}, err
	}
	defer lk.Unlock()
	rc, err := open()
	if err != nil {
		return metadata.Layer{}, err
	}
	defer rc.Close()
	tar, err := layer.NewReader(bufio.NewReaderSize(rc, 1<<20), mediaTypeCompression(l.MediaType))
	if err != nil {
		return metadata.Layer{}, err
	}
	defer tar.Close()
	w, err := s.Content.NewWriter()
	if err != nil {
		return metadata.Layer{}, err
	}
	defer w.Close()
	bw := bufio.NewWriterSize(w, 1<<20)
	zw, err := layer.NewParallelWriter(bw, o.To, o.Level)
	if err != nil {
		return metadata.Layer{}, err
	}
	// The record will say that the blob unpacks to l.DiffID: check it on
	// the tar as it goes by.
	diff := layer.NewDigester()
	if _, err := io.CopyBuffer(io.MultiWriter(zw, diff), tar, make([]byte, 1<<20)); err != nil {
		zw.Close()
		return metadata.Layer{}, err
	}
	if err := zw.Close(); err != nil {
		return metadata.Layer{}, err
	}
	if err := bw.Flush(); err != nil {
		return metadata.Layer{}, err
	}
	if diff.Digest() != l.DiffID {
		return metadata.Layer{}, fmt.Errorf("it unpacks to %s, not %s (run strata fsck)", diff.Digest(), l.DiffID)
	}
	d, err := w.Commit("", -1)
	if err != nil {
		return metadata.Layer{}, err
	}
	// The tar is not parsed here: what it unpacks to is the source
	// layer's record's to say.
	rec := metadata.Layer{Digest: d, DiffID: l.DiffID, Size: w.Size(), UncompressedSize: diff.Size(), ContentSize: -1, MediaType: LayerMediaType(o.To)}
	c = metadata.Converted{DiffID: l.DiffID, Compression: o.To.String(), Digest: d}
	return rec, s.Meta.Update(func(tx *metadata.Tx) error {
		if err := tx.Put(metadata.BucketLayers, d.String(), rec); err != nil {
			return err
		}
		return tx.Put(metadata.BucketConverted, key, c)
	})
}

// ConvertedBlobs lists the converted blobs of each layer, by diffID: push
// asks a registry to mount them from a repository it pushed them to.
func (s *Store) ConvertedBlobs() (map[digest.Digest][]digest.Digest, error) {
	out := map[digest.Digest][]digest.Digest{}
	err := s.Meta.View(func(tx *metadata.Tx) error {
		return forEachConverted(tx, func(_ string, c metadata.Converted) error {
			out[c.DiffID] = append(out[c.DiffID], c.Digest)
			return nil
		})
	})
	return out, err
}

// mediaTypeCompression is the compression a layer media type names.
func mediaTypeCompression(mt string) layer.Compression {
	switch {
	case strings.HasSuffix(mt, "gzip"):
		return layer.Gzip
	case strings.HasSuffix(mt, "zstd"):
		return layer.Zstd
	}
	return layer.Uncompressed
}

// layerMediaType is the media type of a layer in a recompressed manifest:
// a converted layer's is that of compression to, an unchanged one's its
// own, each in the manifest's family (Docker or OCI).
func layerMediaType(old string, converted bool, to layer.Compression, oci bool) string {
	docker := strings.HasPrefix(old, "application/vnd.docker.")
	switch {
	case !converted && (!docker || !oci):
		return old
	case !converted:
		return image.OCILayerMediaType(old)
	case !oci:
		return image.MediaTypeDockerLayerGzip // a Docker manifest converts only to gzip
	}
	return LayerMediaType(to)
}

// convertedSource is an image whose manifest lists converted layer blobs:
// those are read from the store, everything else from the image it was
// made from.
type convertedSource struct {
	image.Source
	s        *Store
	manifest image.Manifest
	layers   []image.Layer
	blobs    map[digest.Digest]int64 // converted blobs and their sizes
}

func (cs *convertedSource) Manifest() image.Manifest { return cs.manifest }
func (cs *convertedSource) Layers() []image.Layer    { return cs.layers }

// OpenBlob reads a blob checked against d (see image.Source).
func (cs *convertedSource) OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	if d == cs.manifest.Digest {
		return io.NopCloser(bytes.NewReader(cs.manifest.Raw)), nil
	}
	size, ok := cs.blobs[d]
	if !ok {
		return cs.Source.OpenBlob(ctx, d)
	}
	rc, err := cs.OpenBlobUnverified(ctx, d)
	if err != nil {
		return nil, err
	}
	return image.Verify(rc, d, size), nil
}

// OpenBlobUnverified implements image.UnverifiedOpener: a converted blob
// is a file of the store.
func (cs *convertedSource) OpenBlobUnverified(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	if _, ok := cs.blobs[d]; !ok {
		if uo, ok := cs.Source.(image.UnverifiedOpener); ok {
			return uo.OpenBlobUnverified(ctx, d)
		}
		return cs.Source.OpenBlob(ctx, d)
	}
	f, err := cs.s.Content.Open(d)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %w", image.ErrBlobNotFound, err)
	}
	return f, err
}

package rewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// SquashOptions say which layers of an image become one.
type SquashOptions struct {
	// From is the index of the first layer of the range (0: all of them);
	// the range always ends at the top layer.
	From int
	// Message is the comment of the squash's history entry.
	Message string
	// Names are given to the new image.
	Names []image.Reference
	// Created is the new image's creation time (default: now), for
	// reproducible results (SOURCE_DATE_EPOCH).
	Created *time.Time
	// CreatedBy is the squash entry's created_by (default: SquashedBy).
	CreatedBy string
}

// SquashedBy is the created_by of the history entry a squash adds.
const SquashedBy = "strata image squash"

// Squash writes a new image in the store whose layers from o.From up are
// one layer holding their merged content (see Merge). The layers below the
// range are shared, not copied; the history keeps every entry of the
// source, those of the range marked empty_layer, plus one for the squash.
// src may be any source: layers it has that the store lacks are stored.
func Squash(ctx context.Context, st *store.Store, src image.Source, o SquashOptions) (*metadata.Image, error) {
	lk, err := st.Writing()
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	cfg, layers, err := SquashLayers(ctx, st, src, o)
	if err != nil {
		return nil, err
	}
	var descs []ocispec.Descriptor
	for _, l := range layers {
		descs = append(descs, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	}
	return st.PutImage(cfg, descs, o.Names)
}

// SquashLayers is Squash without adding the image (o.Names unused): it
// stores the merged layer (and the layers below the range the store
// lacks) and returns the new image's config and layers, for a caller that
// adds the image itself or writes it elsewhere (build --squash). Nothing
// refers to the merged layer yet: the caller holds st.Writing() until
// something does, so that no collection removes it.
func SquashLayers(ctx context.Context, st *store.Store, src image.Source, o SquashOptions) (*image.ConfigFile, []metadata.Layer, error) {
	layers := src.Layers()
	if len(layers) == 0 {
		return nil, nil, errors.New("the image has no layers to squash")
	}
	if o.From < 0 || o.From >= len(layers) {
		return nil, nil, fmt.Errorf("--from %d: the image has layers 0 to %d", o.From, len(layers)-1)
	}
	below, rng := layers[:o.From], layers[o.From:]
	open := func(l image.Layer) OpenFunc {
		return func() (io.ReadCloser, error) { return OpenTar(ctx, src, l) }
	}
	var belowTree *Tree
	var err error
	if len(below) > 0 {
		var fns []OpenFunc
		for _, l := range below {
			if err := storeLayer(ctx, st, src, l); err != nil {
				return nil, nil, err
			}
			fns = append(fns, open(l))
		}
		if belowTree, err = Visible(fns); err != nil {
			return nil, nil, fmt.Errorf("layers below the range: %w", err)
		}
	}
	var fns []OpenFunc
	for _, l := range rng {
		fns = append(fns, open(l))
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Merge(pw, fns, belowTree)) }()
	merged, err := st.WriteLayer(pr, "", -1, "")
	pr.CloseWithError(err)
	if err != nil {
		return nil, nil, fmt.Errorf("squash: %w", err)
	}
	cfg, out := Squashed(src, o, merged)
	for i := range out[:o.From] {
		if rec, err := st.LayerRecord(out[i].Digest); err == nil {
			out[i].ContentSize = rec.ContentSize
		}
	}
	return cfg, out, nil
}

// Squashed is the image a squash of src makes once its merged layer is
// known: src's config with the squash's history and times, src's layers
// below o.From and then merged. A caller that kept the merged layer of an
// earlier squash of the same layers (build --squash's cache) gets the
// same image without merging again.
func Squashed(src image.Source, o SquashOptions, merged metadata.Layer) (*image.ConfigFile, []metadata.Layer) {
	cfg := *src.Config().File
	created := time.Now().UTC()
	if o.Created != nil {
		created = o.Created.UTC()
	}
	by := o.CreatedBy
	if by == "" {
		by = SquashedBy
	}
	cfg.Created = &created
	cfg.History = squashHistory(cfg.History, o.From, ocispec.History{
		Created: &created, CreatedBy: by, Comment: o.Message,
	})
	cfg.RootFS.DiffIDs = nil
	var out []metadata.Layer
	for _, l := range src.Layers()[:o.From] {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		// What the layer unpacks to is the store's to know (SquashLayers).
		out = append(out, metadata.Layer{Digest: l.Digest, DiffID: l.DiffID, Size: l.Size, UncompressedSize: l.UncompressedSize, ContentSize: -1, MediaType: l.MediaType})
	}
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, merged.DiffID)
	return &cfg, append(out, merged)
}

// squashHistory marks the entries of the layers from index from up as
// empty_layer and appends the squash's entry, which stands for the merged
// layer: history maps to layers through its non-empty entries, in order.
func squashHistory(h []ocispec.History, from int, squash ocispec.History) []ocispec.History {
	out := make([]ocispec.History, 0, len(h)+1)
	n := 0 // layers seen so far
	for _, e := range h {
		if !e.EmptyLayer {
			if n >= from {
				e.EmptyLayer = true
			}
			n++
		}
		out = append(out, e)
	}
	return append(out, squash)
}

// OpenTar opens a layer of src as its uncompressed tar.
func OpenTar(ctx context.Context, src image.Source, l image.Layer) (io.ReadCloser, error) {
	rc, err := src.OpenBlob(ctx, l.Digest)
	if err != nil {
		return nil, err
	}
	dr, _, err := layer.Decompress(rc)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	return &bothCloser{ReadCloser: dr, under: rc}, nil
}

type bothCloser struct {
	io.ReadCloser
	under io.Closer
}

func (b *bothCloser) Close() error {
	err := b.ReadCloser.Close()
	if uerr := b.under.Close(); err == nil {
		err = uerr
	}
	return err
}

// storeLayer copies a layer the store does not have from src.
func storeLayer(ctx context.Context, st *store.Store, src image.Source, l image.Layer) error {
	if _, err := st.LayerRecord(l.Digest); err == nil {
		return nil
	}
	rc, err := src.OpenBlob(ctx, l.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	rec, err := st.WriteLayer(rc, l.Digest, l.Size, l.MediaType)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	if rec.DiffID != l.DiffID {
		return fmt.Errorf("layer %s: its content is %s, the config says %s", l.Digest, rec.DiffID, l.DiffID)
	}
	return nil
}

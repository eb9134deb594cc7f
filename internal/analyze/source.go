// Package analyze tells what each layer of an image adds, changes, removes
// and wastes. It reads every layer's tar once, as a stream, and keeps a
// small record per path; it never extracts a layer nor holds one in memory.
//
// The figures dive prints (image size, efficiency score, wasted bytes, user
// wasted percent) are computed exactly as dive computes them, so that a CI
// threshold means the same thing in both tools. Next to them the package
// reports what dive cannot: which copy of which path is wasted and which
// layer wasted it, layers that only changed file metadata, and files whose
// content is shipped more than once.
package analyze

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// Layer is one layer to analyse: what is known of it and how to read it.
// Open returns the layer blob as stored (compressed or not); the analyzer
// detects the compression itself, so every source can hand out raw blobs.
type Layer struct {
	Digest    digest.Digest
	DiffID    digest.Digest
	MediaType string
	Size      int64 // bytes of the blob, -1 when unknown
	Open      func() (io.ReadCloser, error)
}

// Image is what the analyzer needs of an image, whatever it comes from:
// a store, an archive or (later) a registry. Each source is an adapter
// that fills this in.
type Image struct {
	Name    string
	Layers  []Layer
	History []ocispec.History
}

// FromStore adapts an image of a strata store.
func FromStore(st *store.Store, im *metadata.Image, name string) (*Image, error) {
	cfg, _, err := st.Config(im)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	out := &Image{Name: name, History: cfg.History}
	for _, l := range im.Layers {
		d := l.Digest
		out.Layers = append(out.Layers, Layer{
			Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size,
			Open: func() (io.ReadCloser, error) { return st.OpenBlob(d) },
		})
	}
	return out, nil
}

// instructions pairs layers with the history entries that made them, as
// docker history and dive do: entries marked empty_layer made no layer, the
// others are matched to layers in order. A layer with no entry left gets
// "(missing)", dive's word for it.
func instructions(h []ocispec.History, n int) []string {
	out := make([]string, n)
	i := 0
	for li := range out {
		for i < len(h) && h[i].EmptyLayer {
			i++
		}
		if i < len(h) {
			out[li] = h[i].CreatedBy
			if out[li] == "" {
				out[li] = h[i].Comment
			}
			i++
		} else {
			out[li] = "(missing)"
		}
	}
	return out
}

// FromArchive adapts image i of an archive or OCI layout (docker-archive:,
// oci-archive:, oci:). The source must stay open while the analysis runs.
func FromArchive(src archive.Source, i int, name string) (*Image, error) {
	imgs := src.Images()
	if i < 0 || i >= len(imgs) {
		return nil, fmt.Errorf("the archive holds %d images, not image %d", len(imgs), i)
	}
	ai := imgs[i]
	var cfg ocispec.Image
	if err := json.Unmarshal(ai.Config, &cfg); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if name == "" && len(ai.Names) > 0 {
		name = ai.Names[0]
	}
	out := &Image{Name: name, History: cfg.History}
	// Analysis stores nothing, so it reads blobs unverified where the
	// source allows (see archive.UnverifiedOpener): no sha256 pass, and a
	// seekable plain layer lets Walk skip big files instead of reading them.
	open := src.OpenBlob
	if uo, ok := src.(archive.UnverifiedOpener); ok {
		open = uo.OpenBlobUnverified
	}
	for _, l := range ai.Layers {
		d := l.Digest
		out.Layers = append(out.Layers, Layer{
			Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size,
			Open: func() (io.ReadCloser, error) { return open(d) },
		})
	}
	return out, nil
}

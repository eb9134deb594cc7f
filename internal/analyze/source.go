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
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
)

// Analyze analyses an image from any source: the store, an archive, an OCI
// layout or a registry (source.Open). The Source must stay open while the
// analysis runs.
func Analyze(ctx context.Context, src image.Source, opts Options) (*Result, error) {
	return analyzePlan(planOf(ctx, src), opts)
}

// plan is what the analysis reads: the name to report, the layers with how
// to open each, and the history that names their instructions. planOf makes
// it from an image.Source; tests make it from tars in memory.
type plan struct {
	Name    string
	Layers  []planLayer
	History []ocispec.History
}

// planLayer is one layer as the analysis reads it. Open returns the layer
// blob as stored (compressed or not); the analyzer detects the compression
// itself.
type planLayer struct {
	Digest    digest.Digest
	DiffID    digest.Digest
	MediaType string
	Size      int64 // bytes of the blob, -1 when unknown
	Open      func() (io.ReadCloser, error)
}

// planOf reads src's layers for the analysis. Analysis stores nothing, so
// it reads blobs unverified where the source allows (image.UnverifiedOpener):
// no sha256 pass, and a seekable plain layer (an archive's, the store's)
// lets Walk skip big files instead of reading them.
func planOf(ctx context.Context, src image.Source) *plan {
	open := src.OpenBlob
	if uo, ok := src.(image.UnverifiedOpener); ok {
		open = uo.OpenBlobUnverified
	}
	im := &plan{Name: src.Name(), History: src.Config().File.History}
	for _, l := range src.Layers() {
		d := l.Digest
		im.Layers = append(im.Layers, planLayer{
			Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size,
			Open: func() (io.ReadCloser, error) { return open(ctx, d) },
		})
	}
	return im
}

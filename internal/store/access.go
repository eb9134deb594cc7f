package store

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
)

// These are the ways into the store's blobs for the packages above it, so
// that none of them reaches into the content store or opens a metadata
// transaction of its own: the store keeps its invariants (a layer blob is
// never visible without its checks, a record never names a missing blob)
// in one place.

// WriteLayer streams a layer blob into the store, hashing, decompressing
// and checking it in one pass (layer.Ingest), and records it. want and
// size, when known (a pull), must match; mediaType "" is taken from the
// blob's compression.
func (s *Store) WriteLayer(r io.Reader, want digest.Digest, size int64, mediaType string) (metadata.Layer, error) {
	b, err := layer.Ingest(s.Content, r, want, size)
	if err != nil {
		return metadata.Layer{}, err
	}
	if mediaType == "" {
		mediaType = LayerMediaType(b.Compression)
	}
	return s.IngestLayer(b, mediaType)
}

// DiscardRefused is what an operation calls with its error once it has
// released its lock: when the error refuses an image for its layers'
// content (layer.ErrInvalidLayer), the blobs the operation stored of it
// before the bad layer came (a load stores each blob as it streams by, a
// pull fetches layers in parallel) are removed at once, unless another
// operation is writing, when the next collection removes them. Other
// failures keep them: a retried pull reuses what it already has.
func (s *Store) DiscardRefused(err error) error {
	if errors.Is(err, layer.ErrInvalidLayer) {
		s.GC(false)
	}
	return err
}

// PutBlob stores a blob that is not a layer (a config, a manifest), checked
// against want and size when they are given.
func (s *Store) PutBlob(r io.Reader, want digest.Digest, size int64) (digest.Digest, int64, error) {
	return s.Content.Put(r, want, size)
}

// NewBlobWriter starts a blob written piece by piece; Commit makes it
// visible under the digest of what was written.
func (s *Store) NewBlobWriter() (*content.Writer, error) { return s.Content.NewWriter() }

// BlobSize is the size of a stored blob file (not of a layer kept only as
// its snapshot: see OpenBlob).
func (s *Store) BlobSize(d digest.Digest) (int64, error) { return s.Content.Info(d) }

// ReadBlob reads a whole stored blob of at most max bytes (manifests,
// configs).
func (s *Store) ReadBlob(d digest.Digest, max int64) ([]byte, error) {
	return s.Content.ReadAll(d, max)
}

// LayerRecords returns every layer record, by blob digest.
func (s *Store) LayerRecords() (map[digest.Digest]metadata.Layer, error) {
	out := map[digest.Digest]metadata.Layer{}
	err := s.Meta.View(func(tx *metadata.Tx) error {
		return tx.ForEach(metadata.BucketLayers, func(_ string, raw []byte) error {
			var rec metadata.Layer
			if json.Unmarshal(raw, &rec) == nil { // fsck reports a damaged one
				out[rec.Digest] = rec
			}
			return nil
		})
	})
	return out, err
}

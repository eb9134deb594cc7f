package registry

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/layer"
)

// storeBlob is a stored blob as go-containerregistry's v1.Layer: it is sent
// as it is (its digest is known, so the pusher asks the registry first).
// opened counts the streams taken, which tells "Pushed" from "Layer already
// exists" without looking inside the pusher.
type storeBlob struct {
	cs       blobOpener
	desc     ocispec.Descriptor
	progress Progress
	mu       sync.Mutex
	opened   int
}

// blobOpener reads stored blobs: the store's OpenBlob, which also reads
// layers kept only as snapshots.
type blobOpener interface {
	OpenBlob(digest.Digest) (io.ReadCloser, error)
}

func hashOf(d digest.Digest) v1.Hash {
	return v1.Hash{Algorithm: string(d.Algorithm()), Hex: d.Encoded()}
}

func (b *storeBlob) Digest() (v1.Hash, error) { return hashOf(b.desc.Digest), nil }
func (b *storeBlob) DiffID() (v1.Hash, error) {
	return v1.Hash{}, errors.New("diffID is not needed to push")
}
func (b *storeBlob) Size() (int64, error) { return b.desc.Size, nil }
func (b *storeBlob) MediaType() (types.MediaType, error) {
	return types.MediaType(b.desc.MediaType), nil
}
func (b *storeBlob) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("uncompressed stream is not needed to push")
}
func (b *storeBlob) Compressed() (io.ReadCloser, error) {
	f, err := b.cs.OpenBlob(b.desc.Digest)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.opened++
	b.mu.Unlock()
	return readCloser{&counter{r: f, p: b.progress, id: short(b.desc.Digest), action: "Pushing", total: b.desc.Size}, f}, nil
}

func (b *storeBlob) sent() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opened > 0
}

type readCloser struct {
	io.Reader
	io.Closer
}

// gzipBlob is an uncompressed stored layer pushed gzip-compressed. Its
// compressed digest is known only once it was compressed, so it compresses
// while it uploads (Digest answers stream.ErrNotComputed until then, which
// makes the pusher skip the HEAD it cannot do yet); the result is recorded
// (see compressedCache) so the next push of the same layer asks the registry
// first and compresses nothing.
type gzipBlob struct {
	cs        blobOpener
	src       ocispec.Descriptor // the uncompressed stored blob
	mediaType string
	progress  Progress

	mu     sync.Mutex
	digest digest.Digest
	size   int64
}

func (g *gzipBlob) Digest() (v1.Hash, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.digest == "" {
		return v1.Hash{}, stream.ErrNotComputed
	}
	return hashOf(g.digest), nil
}
func (g *gzipBlob) DiffID() (v1.Hash, error) { return hashOf(g.src.Digest), nil }
func (g *gzipBlob) Size() (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.digest == "" {
		return 0, stream.ErrNotComputed
	}
	return g.size, nil
}
func (g *gzipBlob) MediaType() (types.MediaType, error)  { return types.MediaType(g.mediaType), nil }
func (g *gzipBlob) Uncompressed() (io.ReadCloser, error) { return g.cs.OpenBlob(g.src.Digest) }

// Compressed starts a fresh compression each call (a retried upload reads
// the stream again), on all cores (pgzip), hashing what it produces.
func (g *gzipBlob) Compressed() (io.ReadCloser, error) {
	f, err := g.cs.OpenBlob(g.src.Digest)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer f.Close()
		bw := bufio.NewWriterSize(pw, 64<<10)
		zw, err := layer.NewParallelWriter(bw, layer.Gzip, pgzip.BestSpeed)
		if err == nil {
			src := &counter{r: f, p: g.progress, id: short(g.src.Digest), action: "Pushing", total: g.src.Size}
			_, err = io.Copy(zw, src)
		}
		if err == nil {
			err = zw.Close()
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return &hashingReader{r: pr, h: digest.SHA256.Hash(), done: g.finish, closer: pr}, nil
}

func (g *gzipBlob) finish(d digest.Digest, n int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.digest, g.size = d, n
}

func (g *gzipBlob) descriptor() ocispec.Descriptor {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ocispec.Descriptor{MediaType: g.mediaType, Digest: g.digest, Size: g.size}
}

type hashingReader struct {
	r      io.Reader
	h      hash.Hash
	n      int64
	done   func(digest.Digest, int64)
	closer io.Closer
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	if err == io.EOF {
		h.done(digest.NewDigest(digest.SHA256, h.h), h.n)
	}
	return n, err
}

func (h *hashingReader) Close() error { return h.closer.Close() }

// compressedCache remembers, per uncompressed layer blob, the gzip blob a
// push made of it: ROOT/registry/gzip/<hex>. It is a fact about bytes, not
// about a registry (gzip of X was Y), so it is valid for every registry and
// outlives the layer harmlessly; a file per entry, written by rename, lets
// concurrent pushes share it without a lock.
type compressedCache struct{ dir string }

func newCompressedCache(dir string) compressedCache {
	return compressedCache{dir: dir}
}

func (c compressedCache) get(uncompressed digest.Digest) (ocispec.Descriptor, bool) {
	b, err := os.ReadFile(filepath.Join(c.dir, uncompressed.Encoded()))
	if err != nil {
		return ocispec.Descriptor{}, false
	}
	var d ocispec.Descriptor
	if json.Unmarshal(b, &d) != nil || d.Digest.Validate() != nil || d.Size <= 0 {
		return ocispec.Descriptor{}, false
	}
	return d, true
}

func (c compressedCache) put(uncompressed digest.Digest, d ocispec.Descriptor) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(c.dir, "tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(c.dir, uncompressed.Encoded())); err != nil {
		return fmt.Errorf("record compressed layer: %w", err)
	}
	return nil
}

// mountOnly is a blob the registry is asked to mount and never sent: its
// bytes are not here in that form (a gzip blob made earlier, whose
// recompression might not give the same bytes).
type mountOnly struct{ desc ocispec.Descriptor }

var errNotMounted = errors.New("not mounted")

func (m mountOnly) Digest() (v1.Hash, error) { return hashOf(m.desc.Digest), nil }
func (m mountOnly) DiffID() (v1.Hash, error) { return v1.Hash{}, errNotMounted }
func (m mountOnly) Size() (int64, error)     { return m.desc.Size, nil }
func (m mountOnly) MediaType() (types.MediaType, error) {
	return types.MediaType(m.desc.MediaType), nil
}
func (m mountOnly) Compressed() (io.ReadCloser, error)   { return nil, errNotMounted }
func (m mountOnly) Uncompressed() (io.ReadCloser, error) { return nil, errNotMounted }

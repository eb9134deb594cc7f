package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
)

// RemoteImage is an image read straight from a registry, stored nowhere:
// an image.Source whose manifest and config are fetched when it is opened
// and whose blobs are streamed from the registry as they are opened.
type RemoteImage struct {
	name     string // familiar reference
	config   image.Config
	manifest image.Manifest
	layers   []image.Layer
	c        *Client
	r        *resolved
}

var _ image.Source = (*RemoteImage)(nil)

// OpenRemote resolves s (for an index, the manifest of platform) and
// fetches its config; layers are fetched as they are opened.
func (c *Client) OpenRemote(ctx context.Context, s string, platform image.Platform) (*RemoteImage, error) {
	r, err := c.resolve(ctx, s, platform)
	if err != nil {
		return nil, err
	}
	ri := &RemoteImage{name: r.iref.Familiar(), c: c, r: r}
	ri.manifest = image.Manifest{Raw: r.doc.Raw, Digest: digest.FromBytes(r.doc.Raw), MediaType: r.mt, Manifest: r.m}
	rc, err := ri.openDesc(ctx, r.m.Config)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", explainStream(err))
	}
	if ri.config, err = image.NewConfig(raw); err != nil {
		return nil, err
	}
	if ri.layers, err = image.LayersOf(ri.manifest, ri.config); err != nil {
		return nil, fmt.Errorf("%s: %w", ri.name, err)
	}
	return ri, nil
}

func (ri *RemoteImage) Name() string             { return ri.name }
func (ri *RemoteImage) Config() image.Config     { return ri.config }
func (ri *RemoteImage) Manifest() image.Manifest { return ri.manifest }
func (ri *RemoteImage) Layers() []image.Layer    { return ri.layers }
func (ri *RemoteImage) Close() error             { return nil }

// OpenBlob streams blob d of the image's repository. The manifest's own
// descriptor bounds a layer or config (and refuses a foreign layer); the
// manifest is served from memory.
func (ri *RemoteImage) OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	if d == ri.manifest.Digest {
		return io.NopCloser(bytes.NewReader(ri.manifest.Raw)), nil
	}
	desc := ocispec.Descriptor{Digest: d, Size: -1}
	for _, l := range append([]ocispec.Descriptor{ri.r.m.Config}, ri.r.m.Layers...) {
		if l.Digest == d {
			desc = l
			break
		}
	}
	return ri.openDesc(ctx, desc)
}

// openDesc streams a blob from the registry's own blob endpoint (never a
// foreign URL), bounded by the descriptor's size (< 0: unknown); the
// reader fails at its end if the bytes do not match the digest.
func (ri *RemoteImage) openDesc(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	what := "blob " + short(d.Digest)
	if len(d.URLs) > 0 || image.IsForeignLayer(d.MediaType) {
		return nil, fmt.Errorf("%s is a foreign layer; strata does not follow foreign-layer URLs", what)
	}
	rc, err := ri.c.openBlob(ctx, ri.r.ref.Context(), d.Digest)
	if err != nil {
		return nil, explainBlob(err, what)
	}
	r := io.Reader(rc)
	if d.Size >= 0 {
		r = io.LimitReader(rc, d.Size+1)
	}
	return &boundedBlob{r: r, c: rc, size: d.Size, v: d.Digest.Verifier(), what: what}, nil
}

// explainBlob is Explain, keeping a missing blob an image.ErrBlobNotFound.
func explainBlob(err error, what string) error {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s: %w", what, image.ErrBlobNotFound)
	}
	return Explain(err, what)
}

// boundedBlob refuses a blob longer or shorter than its descriptor, or
// whose bytes do not match its digest, when its end is read.
type boundedBlob struct {
	r    io.Reader
	c    io.Closer
	n    int64
	size int64 // < 0: unknown
	v    digest.Verifier
	what string
}

func (b *boundedBlob) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.v.Write(p[:n])
	if b.size >= 0 && b.n > b.size {
		return n, fmt.Errorf("%s is larger than its descriptor says (%d bytes)", b.what, b.size)
	}
	if err == io.EOF {
		if b.size >= 0 && b.n != b.size {
			return n, fmt.Errorf("%s: got %d bytes, want %d", b.what, b.n, b.size)
		}
		if !b.v.Verified() {
			return n, fmt.Errorf("%s: digest mismatch", b.what)
		}
	}
	if err != nil && err != io.EOF {
		err = explainStream(err)
	}
	return n, err
}

func (b *boundedBlob) Close() error { return b.c.Close() }

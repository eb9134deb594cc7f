package registry

import (
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
)

// RemoteImage is an image read straight from a registry, stored nowhere:
// what `strata analyze` needs to look at an image without pulling it.
type RemoteImage struct {
	Name   string // familiar reference
	Config []byte
	Layers []ocispec.Descriptor
	c      *Client
	ctx    context.Context
	r      *resolved
}

// OpenRemote resolves s (for an index, the manifest of platform) and
// fetches its config; layers are fetched as they are opened.
func (c *Client) OpenRemote(ctx context.Context, s string, platform Platform) (*RemoteImage, error) {
	r, err := c.resolve(ctx, s, platform)
	if err != nil {
		return nil, err
	}
	ri := &RemoteImage{Name: r.iref.Familiar(), Layers: r.m.Layers, c: c, ctx: ctx, r: r}
	rc, err := ri.OpenBlob(r.m.Config)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ri.Config, err = io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", explainStream(err))
	}
	if _, err := image.ParseConfig(ri.Config); err != nil {
		return nil, err
	}
	return ri, nil
}

// OpenBlob streams a blob of the image from the registry's own blob
// endpoint (never a foreign URL), bounded by the descriptor's size; the
// reader fails at its end if the bytes do not match the digest.
func (ri *RemoteImage) OpenBlob(d ocispec.Descriptor) (io.ReadCloser, error) {
	what := "blob " + short(d.Digest)
	if len(d.URLs) > 0 || image.IsForeignLayer(d.MediaType) {
		return nil, fmt.Errorf("%s is a foreign layer; strata does not follow foreign-layer URLs", what)
	}
	p, err := ri.c.puller(ri.ctx)
	if err != nil {
		return nil, err
	}
	l, err := p.Layer(ri.ctx, ri.r.ref.Context().Digest(d.Digest.String()))
	if err != nil {
		return nil, Explain(err, what)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, Explain(err, what)
	}
	return &boundedBlob{r: io.LimitReader(rc, d.Size+1), c: rc, size: d.Size, v: d.Digest.Verifier(), what: what}, nil
}

// boundedBlob refuses a blob longer or shorter than its descriptor, or
// whose bytes do not match its digest, when its end is read.
type boundedBlob struct {
	r    io.Reader
	c    io.Closer
	n    int64
	size int64
	v    digest.Verifier
	what string
}

func (b *boundedBlob) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.v.Write(p[:n])
	if b.n > b.size {
		return n, fmt.Errorf("%s is larger than its descriptor says (%d bytes)", b.what, b.size)
	}
	if err == io.EOF {
		if b.n != b.size {
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

package registry

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/store"
)

// Document is a manifest or index as the registry served it: the exact
// bytes (their digest is the document's name; re-encoding would change it).
type Document struct {
	Raw       []byte
	MediaType string
	Digest    digest.Digest
}

// GetManifest fetches a manifest or index by tag or digest, bounded in size,
// and refuses a document whose kind is ambiguous or whose digest differs
// from the one asked for.
func (c *Client) GetManifest(ctx context.Context, ref name.Reference) (*Document, error) {
	p, err := c.puller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := p.Get(ctx, ref)
	if err != nil {
		return nil, Explain(err, refString(ref))
	}
	return checkDocument(d.Manifest, string(d.MediaType), ref)
}

func checkDocument(raw []byte, declared string, ref name.Reference) (*Document, error) {
	if len(raw) > image.MaxManifestSize {
		return nil, fmt.Errorf("%s: manifest is larger than %d bytes", refString(ref), image.MaxManifestSize)
	}
	got := digest.FromBytes(raw)
	if dr, ok := ref.(name.Digest); ok && got.String() != dr.DigestStr() {
		return nil, fmt.Errorf("%s: digest mismatch: the registry sent a manifest whose digest is %s", refString(ref), got)
	}
	// A registry may label a manifest application/json or the like; only a
	// real manifest media type is held against the document's own field.
	if !image.IsManifest(declared) && !image.IsIndex(declared) {
		declared = ""
	}
	mt, err := image.DetectMediaType(raw, declared)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", refString(ref), err)
	}
	return &Document{Raw: raw, MediaType: mt, Digest: got}, nil
}

func refString(ref name.Reference) string { return ref.Name() }

func (c *Client) puller(ctx context.Context) (*remote.Puller, error) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.pull == nil {
		p, err := remote.NewPuller(c.remoteOpts(ctx)...)
		if err != nil {
			return nil, err
		}
		c.pull = p
	}
	return c.pull, nil
}

// Blob is one blob to fetch: a layer is stored with its layer record (its
// diffID computed while it streams); anything else (a config, a cache
// record) is stored as a plain blob.
type Blob struct {
	Desc  ocispec.Descriptor
	Layer bool
	Name  string // how errors name it; default "layer|blob SHORT-DIGEST"
}

// FetchResult says what FetchBlobs did with each blob.
type FetchResult struct {
	Fetched []digest.Digest // came over the wire
	Present []digest.Digest // were in the store already
	Bytes   int64           // bytes received
}

// FetchBlobs brings the blobs of repo that the store lacks into it,
// MaxConcurrent at a time, each streamed into the content store with its
// digest and size verified on the way. The caller holds st.Writing().
// Nothing becomes visible: the blobs wait for an image record (AddImage) or
// another root; until then they are verified, unreferenced blobs that a retry
// reuses and gc removes.
func (c *Client) FetchBlobs(ctx context.Context, st *store.Store, repo name.Repository, blobs []Blob) (*FetchResult, error) {
	res := &FetchResult{}
	type outcome struct {
		fetched bool
		n       int64
	}
	var todo []Blob
	seen := map[digest.Digest]bool{}
	for _, b := range blobs {
		if seen[b.Desc.Digest] {
			continue
		}
		seen[b.Desc.Digest] = true
		if c.present(st, b) {
			res.Present = append(res.Present, b.Desc.Digest)
			if b.Layer {
				c.opts.Progress.Status(short(b.Desc.Digest), "Already exists")
			}
			continue
		}
		if b.Layer {
			c.opts.Progress.Status(short(b.Desc.Digest), "Pulling fs layer")
		}
		todo = append(todo, b)
	}
	outs := make([]outcome, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.MaxConcurrent)
	for i, b := range todo {
		g.Go(func() error {
			fetched, n, err := c.fetchOne(gctx, st, repo, b)
			outs[i] = outcome{fetched, n}
			return err
		})
	}
	err := g.Wait()
	for i, o := range outs {
		if o.fetched {
			res.Fetched = append(res.Fetched, todo[i].Desc.Digest)
		}
		res.Bytes += o.n
	}
	return res, err
}

// present reports whether the store has a verified copy of b (and, for a
// layer, its record). A blob without its layer record (a pull interrupted
// between the two) gets its record from the local bytes, without a download.
func (c *Client) present(st *store.Store, b Blob) bool {
	size, err := st.BlobSize(b.Desc.Digest)
	if err != nil || size != b.Desc.Size {
		return false
	}
	if !b.Layer {
		return true
	}
	if _, err := st.LayerRecord(b.Desc.Digest); err == nil {
		return true
	}
	f, err := st.OpenBlob(b.Desc.Digest)
	if err != nil {
		return false
	}
	defer f.Close()
	lb, err := layer.Check(f)
	if err != nil {
		return false
	}
	lb.Digest, lb.Size = b.Desc.Digest, size
	_, err = st.IngestLayer(lb, b.Desc.MediaType)
	return err == nil
}

func (c *Client) fetchOne(ctx context.Context, st *store.Store, repo name.Repository, b Blob) (bool, int64, error) {
	id := short(b.Desc.Digest)
	what := "blob " + id
	if b.Layer {
		what = "layer " + id
	}
	if b.Name != "" {
		what = b.Name
	}
	// Always the registry's own blob endpoint: a descriptor's urls (foreign
	// layers) are never followed, so a manifest cannot make us fetch from
	// an address of its choosing.
	rc, err := c.openBlob(ctx, repo, b.Desc.Digest)
	if err != nil {
		if len(b.Desc.URLs) > 0 || image.IsForeignLayer(b.Desc.MediaType) {
			return false, 0, fmt.Errorf("%s is a foreign layer the registry does not serve; strata does not follow foreign-layer URLs", what)
		}
		return false, 0, Explain(err, what)
	}
	defer rc.Close()
	// One byte more than the descriptor allows, so that an overlong blob is
	// seen (and refused by the size check) rather than silently cut.
	var prog Progress = nopProgress{} // configs and the like are not shown, as in docker
	if b.Layer {
		prog = c.opts.Progress
	}
	cr := &counter{r: io.LimitReader(rc, b.Desc.Size+1), p: prog, id: id, action: "Downloading", total: b.Desc.Size}
	if !b.Layer {
		if _, _, err := st.PutBlob(cr, b.Desc.Digest, b.Desc.Size); err != nil {
			return false, cr.n, fmt.Errorf("%s: %w", what, explainStream(err))
		}
		return true, cr.n, nil
	}
	if _, err := st.WriteLayer(cr, b.Desc.Digest, b.Desc.Size, b.Desc.MediaType); err != nil {
		return false, cr.n, fmt.Errorf("%s: %w", what, explainStream(err))
	}
	c.opts.Progress.Status(id, "Pull complete")
	return true, cr.n, nil
}

// explainStream makes the errors of a blob stream readable: a cut
// connection, a registry that stopped answering, or bytes that do not match
// their digest. Errors of the store (a full disk) stay as they are.
func explainStream(err error) error {
	var se *stallError
	var te interface{ Temporary() bool }
	switch {
	case errors.As(err, &se):
		return Explain(err, "download")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the connection was cut before the blob was complete (%v)", err)
	case errors.As(err, &te) && te.Temporary():
		return Explain(err, "download")
	}
	return err
}

func short(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
)

// PushResult is what a push did.
type PushResult struct {
	Ref    image.Reference
	Digest digest.Digest // of the manifest as pushed
	Size   int64
	// Pushed, Existed and Mounted count layer blobs by what happened to them.
	Pushed, Existed, Mounted int
	// Recompressed is set when uncompressed local layers were pushed gzip
	// compressed, so the pushed manifest differs from the stored one.
	Recompressed bool
	MediaType    string // of the manifest as pushed
}

func (c *Client) pusher(ctx context.Context) (*remote.Pusher, error) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.push == nil {
		p, err := remote.NewPusher(c.remoteOpts(ctx)...)
		if err != nil {
			return nil, err
		}
		c.push = p
	}
	return c.push, nil
}

// Upload is one blob to send: Desc names a stored blob. Compress asks for an
// uncompressed layer to be sent gzip-compressed; MountFrom names another
// repository of the same registry that has the blob (a cross-repository
// mount is then tried before an upload).
type Upload struct {
	Desc      ocispec.Descriptor
	Layer     bool // report progress for it
	Compress  bool
	MountFrom name.Reference
}

// UploadResult is what happened to one Upload. Desc is the blob as the
// registry has it: the gzip blob for a compressed upload.
type UploadResult struct {
	Desc   ocispec.Descriptor
	Status string // "Pushed", "Layer already exists", "Mounted from ..."
}

// UploadBlobs sends the blobs the registry's repository lacks, MaxConcurrent
// at a time; go-containerregistry asks the registry first (HEAD, then a
// mount when MountFrom is given) and streams only what is missing.
func (c *Client) UploadBlobs(ctx context.Context, st *store.Store, repo name.Repository, ups []Upload) ([]UploadResult, error) {
	return c.uploadBlobs(ctx, st, newCompressedCache(st.Path(store.PushedGzip)), repo, ups)
}

func (c *Client) uploadBlobs(ctx context.Context, blobs blobOpener, cache compressedCache, repo name.Repository, ups []Upload) ([]UploadResult, error) {
	p, err := c.pusher(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]UploadResult, len(ups))
	for _, u := range ups {
		if u.Layer {
			c.opts.Progress.Status(short(u.Desc.Digest), "Preparing")
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.MaxConcurrent)
	for i, u := range ups {
		g.Go(func() error {
			r, err := c.uploadOne(gctx, p, blobs, cache, repo, u)
			if err != nil {
				what := "blob " + short(u.Desc.Digest)
				if u.Layer {
					what = "layer " + short(u.Desc.Digest)
				}
				return Explain(err, what)
			}
			if u.Layer {
				c.opts.Progress.Status(short(u.Desc.Digest), r.Status)
			}
			out[i] = r
			return nil
		})
	}
	return out, g.Wait()
}

func (c *Client) uploadOne(ctx context.Context, p *remote.Pusher, blobs blobOpener, cache compressedCache, repo name.Repository, u Upload) (UploadResult, error) {
	if u.Compress {
		// Pushed before: the registry may have the gzip blob already, and
		// then nothing is compressed nor sent.
		if d, ok := cache.get(u.Desc.Digest); ok {
			pl, err := c.puller(ctx)
			if err != nil {
				return UploadResult{}, err
			}
			rl, err := pl.Layer(ctx, repo.Digest(d.Digest.String()))
			if err == nil {
				if ok, err := partial.Exists(rl); err == nil && ok {
					d.MediaType = gzipMediaType(u.Desc.MediaType)
					return UploadResult{Desc: d, Status: "Layer already exists"}, nil
				}
			}
		}
		if d, ok := cache.get(u.Desc.Digest); ok && u.MountFrom != nil {
			// Another repository has the gzip blob: ask for a mount, and
			// send nothing from here if the registry refuses it.
			d.MediaType = gzipMediaType(u.Desc.MediaType)
			ml := &remote.MountableLayer{Layer: mountOnly{d}, Reference: u.MountFrom}
			if err := p.Upload(ctx, repo, ml); err == nil && c.mounts.wasMounted(d.Digest.String()) {
				return UploadResult{Desc: d, Status: "Mounted from " + u.MountFrom.Context().RepositoryStr()}, nil
			}
		}
		g := &gzipBlob{cs: blobs, src: u.Desc, mediaType: gzipMediaType(u.Desc.MediaType), progress: c.opts.Progress}
		if err := p.Upload(ctx, repo, g); err != nil {
			return UploadResult{}, err
		}
		d := g.descriptor()
		if err := cache.put(u.Desc.Digest, d); err != nil {
			return UploadResult{}, err
		}
		return UploadResult{Desc: d, Status: "Pushed"}, nil
	}
	var prog Progress = nopProgress{}
	if u.Layer {
		prog = c.opts.Progress
	}
	b := &storeBlob{cs: blobs, desc: u.Desc, progress: prog}
	var l v1.Layer = b
	if u.MountFrom != nil {
		l = &remote.MountableLayer{Layer: b, Reference: u.MountFrom}
	}
	if err := p.Upload(ctx, repo, l); err != nil {
		return UploadResult{}, err
	}
	switch {
	case b.sent():
		return UploadResult{Desc: u.Desc, Status: "Pushed"}, nil
	case u.MountFrom != nil && c.mounts.wasMounted(u.Desc.Digest.String()):
		return UploadResult{Desc: u.Desc, Status: "Mounted from " + u.MountFrom.Context().RepositoryStr()}, nil
	}
	return UploadResult{Desc: u.Desc, Status: "Layer already exists"}, nil
}

// gzipMediaType is the gzip counterpart of an uncompressed layer type, in
// the same family (docker or OCI) as the manifest that lists it.
func gzipMediaType(mt string) string {
	if mt == image.MediaTypeDockerLayer || strings.HasPrefix(mt, "application/vnd.docker.") {
		return image.MediaTypeDockerLayerGzip
	}
	return ocispec.MediaTypeImageLayerGzip
}

type rawManifest struct {
	raw []byte
	mt  string
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.MediaType(r.mt), nil }

// PutManifest stores a manifest or index under ref (a tag or its digest),
// byte for byte. Everything it names must be in the repository already.
func (c *Client) PutManifest(ctx context.Context, ref name.Reference, raw []byte, mediaType string) (digest.Digest, error) {
	if _, err := image.DetectMediaType(raw, mediaType); err != nil {
		return "", err
	}
	p, err := c.pusher(ctx)
	if err != nil {
		return "", err
	}
	if err := p.Put(ctx, ref, rawManifest{raw, mediaType}); err != nil {
		return "", Explain(err, refString(ref))
	}
	return digest.FromBytes(raw), nil
}

// Push sends the image src to dest (default: src's name). Blobs the
// registry has are not sent; uncompressed layers are sent gzip-compressed
// (and the manifest rewritten for them, the config and so the image ID
// unchanged). st keeps which gzip blob each uncompressed layer became and
// which repositories hold which blobs (for mounts); when src is an image of
// st, the pushed digest is recorded in its RepoDigests.
func (c *Client) Push(ctx context.Context, st *store.Store, src image.Source, dest string) (*PushResult, error) {
	if dest == "" {
		dest = src.Name()
	}
	iref, err := image.ParseTagged(dest)
	if err != nil {
		if image.LooksLikeID(dest) {
			return nil, fmt.Errorf("cannot push an image by ID: give a name (strata push %s REGISTRY/REPO:TAG)", dest)
		}
		return nil, err
	}
	ref, _, err := c.Ref(iref.String())
	if err != nil {
		return nil, err
	}
	res, err := c.pushImage(ctx, st, src, ref.Context(), ref)
	if err != nil {
		return nil, err
	}
	res.Ref = iref
	if rec, ok := store.Record(src); ok {
		if _, err := st.AddImage(rec.Manifest.Digest, nil, []string{iref.Repository() + "@" + res.Digest.String()}); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// pushImage sends src's blobs to repo, then its manifest under ref (nil:
// under its own digest, as an index's entries go).
func (c *Client) pushImage(ctx context.Context, st *store.Store, src image.Source, repo name.Repository, ref name.Reference) (*PushResult, error) {
	man := src.Manifest()
	raw, mt := man.Raw, man.MediaType
	m := *man.Manifest
	m.Layers = append([]ocispec.Descriptor(nil), m.Layers...) // rewritten below; the source's stays
	mounts := c.mountSources(st, repo)

	// A layer listed twice is sent once.
	index := map[digest.Digest]int{}
	var ups []Upload
	for _, l := range m.Layers {
		if _, ok := index[l.Digest]; ok || image.IsForeignLayer(l.MediaType) {
			continue // registries do not take foreign layers; their manifest entry stays
		}
		index[l.Digest] = len(ups)
		u := Upload{Desc: l, Layer: true, Compress: isUncompressed(l.MediaType), MountFrom: mounts[l.Digest]}
		ups = append(ups, u)
	}
	blobs := sourceBlobs{ctx, src}
	cache := newCompressedCache(st.Path(store.PushedGzip))
	results, err := c.uploadBlobs(ctx, blobs, cache, repo, ups)
	if err != nil {
		return nil, err
	}
	// The config goes last (as docker does), so a registry never holds the
	// config of an image whose layers failed.
	if _, err := c.uploadBlobs(ctx, blobs, cache, repo, []Upload{{Desc: m.Config, MountFrom: mounts[m.Config.Digest]}}); err != nil {
		return nil, err
	}
	res := &PushResult{}
	for _, r := range results {
		switch {
		case r.Status == "Pushed":
			res.Pushed++
		case strings.HasPrefix(r.Status, "Mounted"):
			res.Mounted++
		default:
			res.Existed++
		}
	}
	for i, l := range m.Layers {
		j, ok := index[l.Digest]
		if !ok || results[j].Desc.Digest == l.Digest {
			continue
		}
		res.Recompressed = true
		m.Layers[i] = results[j].Desc
	}
	if res.Recompressed {
		if raw, err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	if ref == nil {
		ref = repo.Digest(digest.FromBytes(raw).String())
	}
	if res.Digest, err = c.PutManifest(ctx, ref, raw, mt); err != nil {
		return nil, err
	}
	res.Size, res.MediaType = int64(len(raw)), mt
	return res, nil
}

// sourceBlobs reads a Source's blobs, checked, for an upload.
type sourceBlobs struct {
	ctx context.Context
	src image.Source
}

func (s sourceBlobs) OpenBlob(d digest.Digest) (io.ReadCloser, error) {
	return s.src.OpenBlob(s.ctx, d)
}

func isUncompressed(mt string) bool {
	return mt == ocispec.MediaTypeImageLayer || mt == image.MediaTypeDockerLayer
}

// mountSources finds, for each blob of the store, a repository of the same
// registry that has it: the images pulled from or pushed to that registry
// say so in their RepoDigests. A mount costs the registry a link instead of
// a copy of the bytes.
func (c *Client) mountSources(st *store.Store, to name.Repository) map[digest.Digest]name.Reference {
	out := map[digest.Digest]name.Reference{}
	imgs, err := st.Images()
	if err != nil {
		return out
	}
	// A push --compression-format sent converted blobs, which the image
	// record does not list.
	converted, err := st.ConvertedBlobs()
	if err != nil {
		return out
	}
	for _, im := range imgs {
		for _, rd := range im.RepoDigests {
			nr, _, err := c.Ref(rd)
			if err != nil || nr.Context().RegistryStr() != to.RegistryStr() || nr.Context().String() == to.String() {
				continue
			}
			blobs := im.Blobs()[1:]
			for _, l := range im.Layers {
				blobs = append(blobs, converted[l.DiffID]...)
			}
			for _, b := range blobs {
				if _, ok := out[b]; !ok {
					out[b] = nr
				}
			}
		}
	}
	return out
}

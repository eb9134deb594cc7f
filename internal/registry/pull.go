package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// PullResult is what a pull did.
type PullResult struct {
	Image *metadata.Image
	Ref   image.Reference // normalized name pulled
	// Digest is the digest of the document the name points at (the index
	// when it is one), as docker prints and records it.
	Digest   digest.Digest
	Manifest digest.Digest // the platform's image manifest
	Fetched  int           // blobs that came over the wire
	Bytes    int64
	UpToDate bool // the name already pointed at this image and nothing was fetched

	replaced bool // the image was stored with another manifest before
}

// Pull fetches the image s names (for an index, the manifest of platform)
// into st and names it. The image appears only once all its blobs are in
// the store and verified.
func (c *Client) Pull(ctx context.Context, st *store.Store, s string, platform image.Platform) (*PullResult, error) {
	return c.PullWith(ctx, st, s, PullOptions{Platform: platform})
}

// PullOptions refine a pull.
type PullOptions struct {
	// Platform picks the manifest of an index.
	Platform image.Platform
	// Strict also refuses an image that is not an index and whose config
	// states another platform (with a *PlatformError, before any layer is
	// fetched), as BuildKit does for a base image; a plain pull takes it.
	Strict bool
	// NoName adds the image without naming it (a build's base for another
	// platform than this machine's: the name keeps meaning the image that
	// runs here).
	NoName bool
}

// PlatformError is an image the registry has, but not for the platform
// asked for.
type PlatformError struct {
	Ref  string         // the image, as the user named it
	Want image.Platform // what was asked for
	// Have lists the platforms there are: an index's entries, or the one
	// a single image's config states.
	Have  []string
	Index bool
}

func (e *PlatformError) Error() string {
	var s string
	if e.Index {
		s = fmt.Sprintf("no matching manifest for %s in the manifest list entries (it has: %v)", e.Want, e.Have)
	} else {
		s = fmt.Sprintf("no match for platform in manifest: want %s, the image is %s", e.Want, strings.Join(e.Have, ", "))
	}
	if e.Ref != "" {
		s = e.Ref + ": " + s
	}
	return s
}

// PullWith is Pull with options.
func (c *Client) PullWith(ctx context.Context, st *store.Store, s string, o PullOptions) (*PullResult, error) {
	res, err := c.pullWith(ctx, st, s, o)
	if err == nil && res.replaced {
		// The forms the image no longer uses (a loaded image's plain
		// layers and manifest) go now, not at the next rmi or prune;
		// unless another operation writes: then the next collection.
		st.GC(false)
	}
	return res, st.DiscardRefused(err)
}

func (c *Client) pullWith(ctx context.Context, st *store.Store, s string, o PullOptions) (*PullResult, error) {
	r, err := c.resolve(ctx, s, o.Platform)
	if err != nil {
		return nil, err
	}
	if o.Strict && !image.IsIndex(r.top.MediaType) {
		// One image, no index to choose from: its config says what it is
		// for (read from the registry, so a refusal leaves nothing behind).
		p, err := c.configPlatform(ctx, r.ref.Context(), r.m.Config)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.iref.Familiar(), err)
		}
		have := image.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
		if !o.Platform.Runs(have) {
			return nil, &PlatformError{Ref: r.iref.Familiar(), Want: o.Platform, Have: []string{image.NormalizePlatform(have).String()}}
		}
	}
	ref, iref, top, doc, m, mt := r.ref, r.iref, r.top, r.doc, r.m, r.mt
	blobs := imageBlobs(m)

	lock, err := st.Writing()
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	var before digest.Digest
	if !iref.IsDigest() {
		if im, err := st.Resolve(iref.String()); err == nil {
			before = im.ID
		}
	}
	fr, err := c.FetchBlobs(ctx, st, ref.Context(), blobs)
	if err != nil {
		return nil, err
	}
	// The manifest is stored byte for byte: its digest is the image's name
	// in the registry, and a push gives back the same one.
	md, err := st.PutBytes(mt, doc.Raw)
	if err != nil {
		return nil, err
	}
	if md.Digest != doc.Digest {
		return nil, fmt.Errorf("internal error: stored manifest is %s, expected %s", md.Digest, doc.Digest)
	}
	var names []image.Reference
	if !iref.IsDigest() && !o.NoName {
		names = append(names, iref)
	}
	old, oldErr := st.Image(m.Config.Digest)
	im, err := st.AddImage(md.Digest, names, []string{iref.Repository() + "@" + top.Digest.String()})
	if err != nil {
		return nil, err
	}
	return &PullResult{
		Image: im, Ref: iref, Digest: top.Digest, Manifest: doc.Digest,
		Fetched: len(fr.Fetched), Bytes: fr.Bytes,
		UpToDate: before == im.ID && len(fr.Fetched) == 0,
		replaced: oldErr == nil && old.Manifest.Digest != md.Digest,
	}, nil
}

// PickPlatform chooses the manifest of an index for a platform, as docker
// does: OS and architecture must match; a variant asked for must match,
// otherwise the first entry of the architecture wins (an amd64 machine runs
// any amd64 image).
func PickPlatform(idx *ocispec.Index, want image.Platform) (ocispec.Descriptor, error) {
	var found []string
	var best *ocispec.Descriptor
	for i := range idx.Manifests {
		d := &idx.Manifests[i]
		if !image.IsManifest(d.MediaType) && d.MediaType != "" {
			continue
		}
		p := d.Platform
		if p == nil {
			continue
		}
		found = append(found, image.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}.String())
		if p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if want.Variant != "" && p.Variant != "" && p.Variant != want.Variant {
			continue
		}
		if best == nil || (want.Variant != "" && p.Variant == want.Variant && best.Platform.Variant != want.Variant) {
			best = d
		}
	}
	if best == nil {
		sort.Strings(found)
		return ocispec.Descriptor{}, &PlatformError{Want: want, Have: found, Index: true}
	}
	return *best, nil
}

// Tags lists the tags of a repository.
func (c *Client) Tags(ctx context.Context, s string) ([]string, error) {
	r, err := image.ParseReference(s)
	if err != nil {
		return nil, err
	}
	repo, err := name.NewRepository(r.Repository(), c.nameOpts(r.Domain())...)
	if err != nil {
		return nil, err
	}
	p, err := c.puller(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := p.List(ctx, repo)
	if err != nil {
		return nil, Explain(err, r.FamiliarRepository())
	}
	sort.Strings(tags)
	return tags, nil
}

// resolved is an image's manifest found in a registry: for an index, the
// manifest of the platform asked for.
type resolved struct {
	ref  name.Reference
	iref image.Reference
	top  *Document // what the name points at (manifest or index)
	doc  *Document // the image manifest
	m    *ocispec.Manifest
	mt   string
}

// resolve finds the image manifest s names, checking every document and
// refusing manifests whose layers are not image layers.
func (c *Client) resolve(ctx context.Context, s string, platform image.Platform) (*resolved, error) {
	ref, iref, err := c.Ref(s)
	if err != nil {
		return nil, err
	}
	top, err := c.GetManifest(ctx, ref)
	if err != nil {
		return nil, err
	}
	doc := top
	if image.IsIndex(top.MediaType) {
		idx, _, err := image.ParseIndex(top.Raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", iref.Familiar(), err)
		}
		d, err := PickPlatform(idx, platform)
		if err != nil {
			var pe *PlatformError
			if errors.As(err, &pe) {
				pe.Ref = iref.Familiar()
				return nil, pe
			}
			return nil, fmt.Errorf("%s: %v", iref.Familiar(), err)
		}
		cref := ref.Context().Digest(d.Digest.String())
		doc, err = c.GetManifest(ctx, cref)
		if err != nil {
			return nil, err
		}
		if int64(len(doc.Raw)) != d.Size {
			return nil, fmt.Errorf("%s: the index says its manifest %s has %d bytes, the registry sent %d", iref.Familiar(), short(d.Digest), d.Size, len(doc.Raw))
		}
		if !image.IsManifest(doc.MediaType) {
			return nil, fmt.Errorf("%s: nested indexes are not supported", iref.Familiar())
		}
	}
	m, mt, err := imageManifest(iref, doc)
	if err != nil {
		return nil, err
	}
	return &resolved{ref: ref, iref: iref, top: top, doc: doc, m: m, mt: mt}, nil
}

// imageManifest parses an image manifest of iref, refusing one whose
// layers are not image layers or whose config is too large.
func imageManifest(iref image.Reference, doc *Document) (*ocispec.Manifest, string, error) {
	m, mt, err := image.ParseManifest(doc.Raw)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v", iref.Familiar(), err)
	}
	for i, l := range m.Layers {
		if !image.IsLayer(l.MediaType) {
			return nil, "", fmt.Errorf("%s: layer %d has media type %q, which is not an image layer (is this an artifact rather than an image?)", iref.Familiar(), i, l.MediaType)
		}
	}
	if m.Config.Size > image.MaxManifestSize {
		return nil, "", fmt.Errorf("%s: image config of %d bytes is too large", iref.Familiar(), m.Config.Size)
	}
	return m, mt, nil
}

// imageBlobs are the blobs of an image manifest to fetch: config, layers.
func imageBlobs(m *ocispec.Manifest) []Blob {
	blobs := []Blob{{Desc: m.Config}}
	for i, l := range m.Layers {
		blobs = append(blobs, Blob{Desc: l, Layer: true, Name: fmt.Sprintf("layer %d (%s)", i, l.Digest)})
	}
	return blobs
}

// PullIndexResult is what a pull of every platform did.
type PullIndexResult struct {
	Index    *metadata.Index
	Ref      image.Reference
	Digest   digest.Digest
	Fetched  int
	Bytes    int64
	UpToDate bool
}

// PullAllPlatforms fetches every platform's image of the index s names and
// stores the index under the name (a name that is one image gets that
// image, as Pull). Each platform's image is added as it completes, without
// a name; the index and its name appear only once all of them are in.
func (c *Client) PullAllPlatforms(ctx context.Context, st *store.Store, s string) (*PullIndexResult, error) {
	res, err := c.pullAllPlatforms(ctx, st, s)
	return res, st.DiscardRefused(err)
}

func (c *Client) pullAllPlatforms(ctx context.Context, st *store.Store, s string) (*PullIndexResult, error) {
	ref, iref, err := c.Ref(s)
	if err != nil {
		return nil, err
	}
	top, err := c.GetManifest(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !image.IsIndex(top.MediaType) {
		return nil, nil
	}
	idx, _, err := image.ParseIndex(top.Raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", iref.Familiar(), err)
	}
	lock, err := st.Writing()
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	var before digest.Digest
	if ix, err := st.Index(iref.String()); err == nil {
		before = ix.Digest
	}
	out := &PullIndexResult{Ref: iref, Digest: top.Digest}
	for _, d := range idx.Manifests {
		if !image.IsManifest(d.MediaType) || d.Platform == nil || d.Platform.OS == "unknown" {
			continue // an attestation or a nested index: kept in the index blob only
		}
		doc, err := c.GetManifest(ctx, ref.Context().Digest(d.Digest.String()))
		if err != nil {
			return nil, err
		}
		m, mt, err := imageManifest(iref, doc)
		if err != nil {
			return nil, err
		}
		fr, err := c.FetchBlobs(ctx, st, ref.Context(), imageBlobs(m))
		if err != nil {
			return nil, err
		}
		out.Fetched += len(fr.Fetched)
		out.Bytes += fr.Bytes
		if _, err := st.PutBytes(mt, doc.Raw); err != nil {
			return nil, err
		}
		if _, err := st.AddImage(doc.Digest, nil, nil); err != nil {
			return nil, err
		}
	}
	if _, err := st.PutBytes(top.MediaType, top.Raw); err != nil {
		return nil, err
	}
	var names []image.Reference
	if !iref.IsDigest() {
		names = append(names, iref)
	}
	out.Index, err = st.AddIndex(top.Digest, names, []string{iref.Repository() + "@" + top.Digest.String()})
	if err != nil {
		return nil, err
	}
	out.UpToDate = before == top.Digest && out.Fetched == 0
	return out, nil
}

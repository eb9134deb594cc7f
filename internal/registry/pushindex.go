package registry

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// IndexPushResult is what a push of a multi-platform image did.
type IndexPushResult struct {
	Ref     image.Reference
	Digest  digest.Digest // of the index as pushed
	Size    int64
	Entries []EntryPush
}

// EntryPush is one platform's image of a pushed index.
type EntryPush struct {
	Platform image.Platform
	*PushResult
}

// PushIndex sends the multi-platform image ix to dest: every platform's
// image (blobs, then its manifest by digest), then the index under dest's
// tag, as buildx and `docker manifest push` do. open gives the Source each
// entry is read from (the store's image, or a conversion of it). When an
// entry's manifest changes on the way (an uncompressed layer sent gzip,
// --compression-format), the index is rewritten with the manifests as
// pushed; otherwise it goes byte for byte, with the digest it has here.
// Entries the store does not hold (an attestation manifest a pull left
// out) are left out of a rewritten index and make an unchanged one
// rewritten too, as a registry refuses an index whose manifests it lacks.
func (c *Client) PushIndex(ctx context.Context, st *store.Store, ix *metadata.Index, dest string, open func(*metadata.Image) (image.Source, error)) (*IndexPushResult, error) {
	iref, err := image.ParseTagged(dest)
	if err != nil {
		return nil, err
	}
	ref, _, err := c.Ref(iref.String())
	if err != nil {
		return nil, err
	}
	raw, err := st.ReadBlob(ix.Digest, image.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	idx, mt, err := image.ParseIndex(raw)
	if err != nil {
		return nil, err
	}
	byManifest := map[digest.Digest]metadata.IndexEntry{}
	for _, e := range ix.Entries {
		byManifest[e.Manifest] = e
	}
	res := &IndexPushResult{Ref: iref}
	changed := false
	var kept []ocispec.Descriptor
	for _, d := range idx.Manifests {
		e, ok := byManifest[d.Digest]
		if !ok {
			changed = true
			continue
		}
		im, err := st.Image(e.Image)
		if err != nil {
			return nil, err
		}
		src, err := open(im)
		if err != nil {
			return nil, err
		}
		pr, err := c.pushImage(ctx, st, src, ref.Context(), nil)
		src.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", store.EntryPlatform(e), err)
		}
		pr.Ref = iref
		res.Entries = append(res.Entries, EntryPush{Platform: store.EntryPlatform(e), PushResult: pr})
		if pr.Digest != d.Digest {
			changed = true
			d.Digest, d.Size, d.MediaType = pr.Digest, pr.Size, pr.MediaType
		}
		kept = append(kept, d)
	}
	if changed {
		idx.Manifests = kept
		if idx.MediaType == "" && mt == ocispec.MediaTypeImageIndex {
			idx.MediaType = mt
		}
		if raw, err = json.Marshal(idx); err != nil {
			return nil, err
		}
	}
	if res.Digest, err = c.PutManifest(ctx, ref, raw, mt); err != nil {
		return nil, err
	}
	res.Size = int64(len(raw))
	if !changed {
		// The registry has this very index now: its digest names it there.
		if _, err := st.AddIndex(ix.Digest, nil, []string{iref.Repository() + "@" + res.Digest.String()}); err != nil {
			return nil, err
		}
	}
	return res, nil
}

package store

import (
	"encoding/json"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/metadata"
)

// PrunePreview is what Prune with the same options would remove, told
// before anything is removed: the images (ID and names) and the bytes of
// the blobs that only they use.
type PrunePreview struct {
	Images []PrunedImage
	// Bytes is what the blobs only these images use weigh on disk.
	Bytes int64
}

// PrunedImage is one image a prune would remove.
type PrunedImage struct {
	ID    digest.Digest `json:"id"`
	Names []string      `json:"names"`
	Size  int64         `json:"size"` // its layers, unpacked
}

// PreviewPrune says what Prune(o) would remove now, by Prune's rules:
// unnamed (or, with All, every) multi-platform image and image that no
// container uses, within o.Until; an entry of a multi-platform image only
// with its index.
func (s *Store) PreviewPrune(o PruneOptions) (PrunePreview, error) {
	var pv PrunePreview
	imgs, err := s.Images()
	if err != nil {
		return pv, err
	}
	nm, err := s.Names()
	if err != nil {
		return pv, err
	}
	ixs, err := s.Indexes()
	if err != nil {
		return pv, err
	}
	inUse := map[digest.Digest]bool{}
	if err := s.Meta.View(func(tx *metadata.Tx) error {
		return tx.ForEach(metadata.BucketContainers, func(_ string, raw []byte) error {
			var r metadata.Roots
			if json.Unmarshal(raw, &r) == nil {
				for _, id := range r.Images {
					inUse[id] = true
				}
			}
			return nil
		})
	}); err != nil {
		return pv, err
	}
	held := map[digest.Digest]bool{}  // entries of a kept index
	freed := map[digest.Digest]bool{} // entries of an index that goes
	blobsGone := map[digest.Digest]int64{}
	for _, ix := range ixs {
		stays := len(nm[ix.Digest]) > 0 && !o.All || !o.Until.IsZero() && !ix.Added.Before(o.Until)
		for _, e := range ix.Entries {
			if stays {
				held[e.Image] = true
			} else {
				freed[e.Image] = true
			}
		}
		if !stays {
			pv.Images = append(pv.Images, PrunedImage{ID: ix.Digest, Names: nm[ix.Digest]})
			blobsGone[ix.Digest] = ix.Size
		}
	}
	removed := map[digest.Digest]bool{}
	for _, im := range imgs {
		if held[im.ID] && len(nm[im.ID]) == 0 || inUse[im.ID] {
			continue
		}
		stays := len(nm[im.ID]) > 0 && !o.All || o.keeps(im)
		if stays && !(freed[im.ID] && len(nm[im.ID]) == 0) {
			continue
		}
		removed[im.ID] = true
		pv.Images = append(pv.Images, PrunedImage{ID: im.ID, Names: nm[im.ID], Size: im.Size()})
	}
	// A blob goes when no image that stays uses it.
	kept := map[digest.Digest]bool{}
	for _, im := range imgs {
		if removed[im.ID] {
			continue
		}
		kept[im.Config.Digest], kept[im.Manifest.Digest] = true, true
		for _, l := range im.Layers {
			kept[l.Digest] = true
		}
	}
	for _, im := range imgs {
		if !removed[im.ID] {
			continue
		}
		blobsGone[im.Config.Digest], blobsGone[im.Manifest.Digest] = im.Config.Size, im.Manifest.Size
		for _, l := range im.Layers {
			blobsGone[l.Digest] = l.Size
		}
	}
	for d, size := range blobsGone {
		if !kept[d] && s.Content.Has(d) {
			pv.Bytes += size
		}
	}
	return pv, nil
}

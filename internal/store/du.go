package store

import (
	"encoding/json"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

// DiskUsage is what `system df` reports: images and the layers they
// unpack to, containers, build cache records, and the bytes on disk.
type DiskUsage struct {
	Images       int
	ActiveImages int   // images a container uses
	ImagesSize   int64 // every image layer once, unpacked
	// Reclaimable is what `image prune -a` would free: the layers no
	// active image has, each counted once.
	Reclaimable int64
	// PerImage splits each image's size into layers it shares with other
	// images and layers only it has (by image ID).
	PerImage map[digest.Digest]ImageUsage
	// Containers is the number of containers; CacheRecords the number of
	// build cache records.
	Containers, CacheRecords int
	// BlobBytes is the blob files' bytes (layers as stored, compressed or
	// not, each once).
	BlobBytes int64
	// KeptLayers are RUN layers kept as their snapshots (no blob file).
	KeptLayers     int
	KeptLayerBytes int64
}

// ImageUsage is how an image's unpacked size splits into layers it shares
// with other images and layers only it has. Docker computes SHARED SIZE
// from parent chains and counts nothing twice only by accident; here a
// layer is shared exactly when another image has the same blob, so for
// every image Size = Shared + Unique, and the sum of Unique plus each shared
// layer once is what the images take on disk unpacked.
type ImageUsage struct {
	Size, Shared, Unique int64
	Containers           int // containers using the image
}

// DiskUsage adds up what the store holds.
func (s *Store) DiskUsage() (*DiskUsage, error) {
	imgs, err := s.Images()
	if err != nil {
		return nil, err
	}
	du := &DiskUsage{Images: len(imgs)}
	if err := s.Content.Walk(func(_ digest.Digest, size int64) error { du.BlobBytes += size; return nil }); err != nil {
		return nil, err
	}
	usedBy := map[digest.Digest]int{} // image ID -> containers using it
	if err := s.Meta.View(func(tx *metadata.Tx) error {
		err := tx.ForEach(metadata.BucketContainers, func(_ string, raw []byte) error {
			du.Containers++
			var r metadata.Roots
			if json.Unmarshal(raw, &r) == nil {
				for _, id := range r.Images {
					usedBy[id]++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.ForEach(metadata.BucketCache, func(string, []byte) error { du.CacheRecords++; return nil })
	}); err != nil {
		return nil, err
	}
	du.PerImage = imageUsage(imgs, usedBy)
	// As in docker, an image is active when a container uses it.
	// Layers are counted by chain ID, as docker's layer store keys them:
	// one unpacked layer, whatever blobs (a pulled gzip one, a loaded
	// plain one) hold it.
	layerSize := map[digest.Digest]int64{}
	kept := map[digest.Digest]bool{}
	for _, im := range imgs {
		chains := image.ChainIDs(im.DiffIDs())
		for i, l := range im.Layers {
			layerSize[chains[i]] = l.Unpacked()
			if usedBy[im.ID] > 0 {
				kept[chains[i]] = true
			}
		}
		if usedBy[im.ID] > 0 {
			du.ActiveImages++
		}
	}
	for d, size := range layerSize {
		du.ImagesSize += size
		if !kept[d] {
			du.Reclaimable += size
		}
	}
	sbs, err := s.SnapBlobs()
	if err != nil {
		return nil, err
	}
	du.KeptLayers = len(sbs)
	for _, sb := range sbs {
		du.KeptLayerBytes += sb.Size
	}
	return du, nil
}

func imageUsage(imgs []*metadata.Image, usedBy map[digest.Digest]int) map[digest.Digest]ImageUsage {
	// By chain ID (see DiskUsage): each chain ID is once in an image.
	users := map[digest.Digest]int{}
	for _, im := range imgs {
		for _, c := range image.ChainIDs(im.DiffIDs()) {
			users[c]++
		}
	}
	out := map[digest.Digest]ImageUsage{}
	for _, im := range imgs {
		u := ImageUsage{Containers: usedBy[im.ID]}
		chains := image.ChainIDs(im.DiffIDs())
		for i, l := range im.Layers {
			size := l.Unpacked()
			u.Size += size
			if users[chains[i]] > 1 {
				u.Shared += size
			} else {
				u.Unique += size
			}
		}
		out[im.ID] = u
	}
	return out
}

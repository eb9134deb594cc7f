package store

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
)

// FsckReport is what a store check found. Problems are damage; the rest is
// information.
type FsckReport struct {
	Blobs, Images, Names int
	Problems             []string
	Unreferenced         int   // blobs no root reaches (collected at the next gc)
	UnreferencedBytes    int64 //
}

// Fsck checks every blob against its digest and every reference of the
// metadata: names to images, images to manifests, configs and layers, and
// the roots of containers, cache records and leases.
func (s *Store) Fsck() (FsckReport, error) {
	var r FsckReport
	bad := func(format string, a ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, a...)) }
	present := map[digest.Digest]bool{}
	layers, err := s.LayerRecords()
	if err != nil {
		return r, err
	}
	// A layer blob is checked against the entry rules of every entering
	// layer in the pass that verifies its digest; what they refuse is
	// reported for each image that has the layer.
	refused := map[digest.Digest]error{}
	err = s.Content.Walk(func(d digest.Digest, size int64) error {
		r.Blobs++
		var err error
		if _, isLayer := layers[d]; isLayer {
			err, refused[d] = s.verifyLayer(d)
		} else {
			err = s.Content.Verify(d)
		}
		if err != nil {
			bad("%v", err)
			return nil
		}
		present[d] = true
		return nil
	})
	if err != nil {
		return r, err
	}
	// A layer kept as its snapshot is checked by writing its tar again.
	sbs, err := s.SnapBlobs()
	if err != nil {
		return r, err
	}
	for d, sb := range sbs {
		if present[d] {
			continue // a file too (loaded or pulled since): checked above
		}
		r.Blobs++
		cw := layer.NewCheckWriter(io.Discard)
		err := s.writeSnapBlob(cw, d, sb)
		if cerr := cw.Close(); err == nil {
			refused[d] = cerr
		}
		if err != nil {
			bad("%v", err)
			continue
		}
		present[d] = true
	}
	var live map[digest.Digest]bool
	err = s.Meta.View(func(tx *metadata.Tx) error {
		all, err := images(tx)
		if err != nil {
			bad("%v", err)
			return nil
		}
		ids := map[digest.Digest]bool{}
		for _, im := range all {
			r.Images++
			ids[im.ID] = true
			s.fsckImage(im, present, refused, bad)
		}
		ixs, err := indexes(tx)
		if err != nil {
			bad("%v", err)
		}
		for _, ix := range ixs {
			r.Images++
			ids[ix.Digest] = true
			if !present[ix.Digest] {
				bad("multi-platform image %s: its index blob is missing", ix.Digest)
			}
			for _, e := range ix.Entries {
				if !ids[e.Image] {
					bad("multi-platform image %s: its %s image %s is missing", ix.Digest, platformOf(e.Platform), e.Image)
				}
			}
		}
		err = tx.ForEach(metadata.BucketNames, func(name string, raw []byte) error {
			r.Names++
			var id digest.Digest
			if err := json.Unmarshal(raw, &id); err != nil || !ids[id] {
				bad("name %s points at a missing image %s", name, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, bucket := range rootBuckets {
			err := tx.ForEach(bucket, func(key string, raw []byte) error {
				var rt metadata.Roots
				if err := json.Unmarshal(raw, &rt); err != nil {
					bad("%s record %s is damaged: %v", bucket, key, err)
					return nil
				}
				for _, b := range rt.Blobs {
					if !present[b] {
						bad("%s record %s needs blob %s, which is missing", bucket, key, b)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		// A conversion names a blob of its layer: a converted blob that is
		// missing, or unpacks to another layer, would be sent for it.
		err = forEachConverted(tx, func(key string, c metadata.Converted) error {
			if l, ok := layers[c.Digest]; !present[c.Digest] || !ok || l.DiffID != c.DiffID {
				bad("converted layer %s: blob %s is missing or not that layer", key, c.Digest)
			}
			return nil
		})
		if err != nil {
			bad("%v", err)
		}
		live, err = marked(tx)
		return err
	})
	if err != nil {
		return r, err
	}
	err = s.Content.Walk(func(d digest.Digest, size int64) error {
		if !live[d] {
			r.Unreferenced++
			r.UnreferencedBytes += size
		}
		return nil
	})
	return r, err
}

func (s *Store) fsckImage(im *metadata.Image, present map[digest.Digest]bool, refused map[digest.Digest]error, bad func(string, ...any)) {
	name := short(im.ID)
	for _, b := range im.Blobs() {
		if !present[b] {
			bad("image %s: blob %s is missing or damaged", name, b)
			return
		}
	}
	for i, l := range im.Layers {
		if err := refused[l.Digest]; err != nil {
			bad("image %s: layer %d (%s): %v", name, i, l.Digest, err)
		}
	}
	mb, err := s.Content.ReadAll(im.Manifest.Digest, image.MaxManifestSize)
	if err != nil {
		bad("image %s: manifest: %v", name, err)
		return
	}
	m, _, err := image.ParseManifest(mb)
	if err != nil {
		bad("image %s: %v", name, err)
		return
	}
	if m.Config.Digest != im.ID {
		bad("image %s: its manifest names config %s", name, m.Config.Digest)
	}
	cfg, _, err := s.Config(im)
	if err != nil {
		bad("image %s: config: %v", name, err)
		return
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) || len(m.Layers) != len(im.Layers) {
		bad("image %s: manifest, config and record disagree on the number of layers", name)
		return
	}
	for i, l := range m.Layers {
		if l.Digest != im.Layers[i].Digest || cfg.RootFS.DiffIDs[i] != im.Layers[i].DiffID {
			bad("image %s: layer %d disagrees between manifest, config and record", name, i)
		}
	}
}

// verifyLayer reads layer blob d once, checking its digest (damage) and
// its entries (a layer that should not have entered) separately.
func (s *Store) verifyLayer(d digest.Digest) (damage, refused error) {
	f, err := s.Content.Open(d)
	if err != nil {
		return err, nil
	}
	defer f.Close()
	v := d.Verifier()
	_, refused = layer.Check(io.TeeReader(f, v))
	// Check stops at a refused entry: the rest still counts for the digest.
	if _, err := io.Copy(v, f); err != nil {
		return err, nil
	}
	if !v.Verified() {
		return fmt.Errorf("blob %s is damaged: its content does not match its digest", d), nil
	}
	return nil, refused
}

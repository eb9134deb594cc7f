package store

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/metadata"
)

// rootBuckets hold records that keep blobs and images alive (see
// metadata.Roots).
var rootBuckets = []string{metadata.BucketContainers, metadata.BucketCache, metadata.BucketLeases}

// GCStats says what a collection removed.
type GCStats struct {
	Blobs int
	Bytes int64
	// Deferred is set when a writer was running and the sweep was left to
	// the next collection.
	Deferred bool
}

// marked returns every blob reachable from a root: images (names or not:
// an image record is a root until rmi or prune removes it), and the blobs
// and images that containers, build cache records and leases name.
func marked(tx *metadata.Tx) (map[digest.Digest]bool, error) {
	live := map[digest.Digest]bool{}
	all, err := images(tx)
	if err != nil {
		return nil, err
	}
	byID := map[digest.Digest]*metadata.Image{}
	for _, im := range all {
		byID[im.ID] = im
		for _, b := range im.Blobs() {
			live[b] = true
		}
	}
	ixs, err := indexes(tx)
	if err != nil {
		return nil, err
	}
	for _, ix := range ixs {
		live[ix.Digest] = true
	}
	err = forEachRoot(tx, func(r metadata.Roots) error {
		for _, b := range r.Blobs {
			live[b] = true
		}
		for _, id := range r.Images {
			if im := byID[id]; im != nil {
				for _, b := range im.Blobs() {
					live[b] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return live, markConverted(tx, live)
}

// markConverted adds to live the converted blobs (metadata.Converted) of
// the layers that a live blob holds: a conversion is kept while some
// image, container or cache record has its layer in any compression, so
// the next push of it compresses nothing, and goes with the last of them.
func markConverted(tx *metadata.Tx, live map[digest.Digest]bool) error {
	liveDiffIDs := map[digest.Digest]bool{}
	err := tx.ForEach(metadata.BucketLayers, func(key string, raw []byte) error {
		var l metadata.Layer
		if live[digest.Digest(key)] && json.Unmarshal(raw, &l) == nil {
			liveDiffIDs[l.DiffID] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	return forEachConverted(tx, func(_ string, c metadata.Converted) error {
		if liveDiffIDs[c.DiffID] {
			live[c.Digest] = true
		}
		return nil
	})
}

func forEachConverted(tx *metadata.Tx, fn func(key string, c metadata.Converted) error) error {
	return tx.ForEach(metadata.BucketConverted, func(key string, raw []byte) error {
		var c metadata.Converted
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("metadata %s/%s is damaged: %w", metadata.BucketConverted, key, err)
		}
		return fn(key, c)
	})
}

// forEachRoot calls fn with every record of the root buckets.
func forEachRoot(tx *metadata.Tx, fn func(metadata.Roots) error) error {
	for _, bucket := range rootBuckets {
		err := tx.ForEach(bucket, func(key string, raw []byte) error {
			var r metadata.Roots
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("metadata %s/%s is damaged: %w", bucket, key, err)
			}
			return fn(r)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// GC removes every blob, layer record and snapshot that no root reaches,
// and what killed builds left in BuildTmp. With wait
// false it gives up at once (Deferred) if an operation is writing blobs,
// rather than make the user wait: what it would have removed stays
// unreachable and goes at the next collection.
func (s *Store) GC(wait bool) (GCStats, error) {
	var st GCStats
	var l *Lock
	var err error
	if wait {
		l, err = s.exclusive()
	} else {
		var ok bool
		l, ok, err = s.tryExclusive()
		if err == nil && !ok {
			st.Deferred = true
			return st, nil
		}
	}
	if err != nil {
		return st, err
	}
	defer l.Unlock()

	var live map[digest.Digest]bool
	var snapshotKeys []string
	driver, err := s.recordedDriver()
	if err != nil {
		return st, err
	}
	err = s.Meta.Update(func(tx *metadata.Tx) error {
		var err error
		if live, err = marked(tx); err != nil {
			return err
		}
		var dead, deadConverted []string
		err = tx.ForEach(metadata.BucketLayers, func(key string, _ []byte) error {
			if !live[digest.Digest(key)] {
				dead = append(dead, key)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// A conversion whose blob goes loses its record with it.
		err = forEachConverted(tx, func(key string, c metadata.Converted) error {
			if !live[c.Digest] {
				deadConverted = append(deadConverted, key)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := tx.Delete(metadata.BucketLayers, k); err != nil {
				return err
			}
		}
		for _, k := range deadConverted {
			if err := tx.Delete(metadata.BucketConverted, k); err != nil {
				return err
			}
		}
		// A dead snapshot-kept layer loses its record here; its snapshot
		// then goes with the other snapshots nothing uses.
		dead = dead[:0]
		err = forEachSnapBlob(tx, func(d digest.Digest, sb metadata.SnapBlob) error {
			if !live[d] {
				dead = append(dead, d.String())
				// Its bytes go with its snapshot: reclaimed too.
				st.Blobs++
				st.Bytes += sb.Size
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := tx.Delete(metadata.BucketSnapBlobs, k); err != nil {
				return err
			}
		}
		snapshotKeys, err = snapshotRoots(tx, driver)
		return err
	})
	if err != nil {
		return st, err
	}
	// The metadata no longer names them: delete the blobs. A crash here
	// leaves unreferenced blobs, which the next collection removes.
	err = s.Content.Walk(func(d digest.Digest, size int64) error {
		if live[d] {
			return nil
		}
		if err := s.Content.Delete(d); err != nil {
			return err
		}
		st.Blobs++
		st.Bytes += size
		return nil
	})
	if err != nil {
		return st, err
	}
	// The mounts of killed builds come off before the snapshots under
	// them go.
	if err := s.cleanBuildTemp(); err != nil {
		return st, err
	}
	if err := s.collectSnapshots(driver, snapshotKeys); err != nil {
		return st, err
	}
	return st, s.Content.CleanIngest()
}

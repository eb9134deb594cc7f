package builder

import (
	"os"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/builder/cache"
	"github.com/strata-dev/strata/internal/store"
)

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// All removes every cache record and the kept ADD <url> downloads;
	// otherwise only records whose layer no image uses go.
	All bool
	// KeepStorage keeps the most recently used records whose layers
	// together take at most this many bytes (0: no bound).
	KeepStorage int64
	// Until keeps the records used at or after it (zero: no bound).
	Until time.Time
}

// PruneResult is what Prune removed.
type PruneResult struct {
	Records int   // cache records removed
	Bytes   int64 // bytes the garbage collection after it freed
}

// Prune removes build cache (`builder prune`): the records chosen, then
// the blobs and snapshots only they held, by a garbage collection that
// waits for running builds.
func Prune(st *store.Store, o PruneOptions) (PruneResult, error) {
	used, err := imageLayers(st)
	if err != nil {
		return PruneResult{}, err
	}
	c := &cache.Cache{DB: st.Meta}
	res, err := c.Prune(cache.PruneOptions{All: o.All, KeepStorage: o.KeepStorage, Until: o.Until, InUse: func(d digest.Digest) bool { return used[d] }})
	if err != nil {
		return PruneResult{}, err
	}
	gc, err := st.GC(true)
	if err != nil {
		return PruneResult{}, err
	}
	if o.All && o.Until.IsZero() {
		// The kept ADD URL downloads, RUN --mount=type=cache directories
		// and context checksums are build cache too. They have no use
		// time, so --filter until keeps them. The lock waits for running
		// builds, which use them.
		lock, err := st.Exclusive()
		if err != nil {
			return PruneResult{}, err
		}
		defer lock.Unlock()
		for _, l := range []store.Location{store.URLCache, store.BuildCache, store.BuildContexts} {
			n, err := removeCounted(st.Path(l))
			if err != nil {
				return PruneResult{}, err
			}
			gc.Bytes += n
		}
	}
	return PruneResult{Records: res.Records, Bytes: gc.Bytes}, nil
}

// CacheUsage is the build cache's share of the disk.
type CacheUsage struct {
	Records int
	// Size is the layer bytes the records hold, each layer once;
	// Reclaimable the part of it no image uses (what Prune frees).
	Size, Reclaimable int64
}

// DiskUsage sums the build cache records and the layer bytes they hold.
func DiskUsage(st *store.Store) (CacheUsage, error) {
	used, err := imageLayers(st)
	if err != nil {
		return CacheUsage{}, err
	}
	all, err := (&cache.Cache{DB: st.Meta}).All()
	if err != nil {
		return CacheUsage{}, err
	}
	var u CacheUsage
	seen := map[digest.Digest]bool{}
	for _, r := range all {
		u.Records++
		if r.Layer == nil || seen[r.Layer.Digest] {
			continue
		}
		seen[r.Layer.Digest] = true
		u.Size += r.Layer.Size
		if !used[r.Layer.Digest] {
			u.Reclaimable += r.Layer.Size
		}
	}
	return u, nil
}

// imageLayers is the set of layer blobs the store's images use.
func imageLayers(st *store.Store) (map[digest.Digest]bool, error) {
	imgs, err := st.Images()
	if err != nil {
		return nil, err
	}
	used := map[digest.Digest]bool{}
	for _, im := range imgs {
		for _, l := range im.Layers {
			used[l.Digest] = true
		}
	}
	return used, nil
}

// removeCounted removes dir and returns the bytes its files held.
func removeCounted(dir string) (int64, error) {
	n := store.FileBytes(dir)
	return n, os.RemoveAll(dir)
}

// Package cache is the build cache: a step's result (a layer, or nothing
// for a config-only step) recorded under the digest of an explicit, typed
// key. Because the key is data and not just a hash, a miss can be
// explained by comparing it with the keys recorded before: which file, which
// build argument, which base image or which instruction text changed.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
)

// Key is everything a step's result depends on.
type Key struct {
	// Parent is the key digest of the step before (for the first step of
	// a stage, of its base).
	Parent string `json:"parent,omitempty"`
	// Base and BaseID name a stage's base (a reference as written, with
	// the image ID it resolved to, or "scratch"); set only on base keys.
	Base   string `json:"base,omitempty"`
	BaseID string `json:"baseID,omitempty"`
	// Platform the step runs for.
	Platform string `json:"platform,omitempty"`
	// Instruction is the step as evaluated: variables expanded, flags
	// included ("COPY --chown=1:1 src/ /app/").
	Instruction string `json:"instruction,omitempty"`
	// Args are the build arguments the step can see, with their values:
	// those its text uses, and for RUN every one in scope, as they are
	// in the command's environment.
	Args map[string]string `json:"args,omitempty"`
	// Sources is the checksum of exactly the files a COPY or ADD reads
	// (content, mode, owner, link target; not times), or of a downloaded
	// URL, or of another stage's files.
	Sources string `json:"sources,omitempty"`
	// Files lists the per-file checksums behind Sources, for explaining
	// a miss; not part of the digest. Large sources are summarised by
	// directory (see Summarise).
	Files map[string]string `json:"files,omitempty"`
}

// Digest names the key: the sha256 of its canonical JSON without Files.
func (k Key) Digest() string {
	k.Files = nil
	b, _ := json.Marshal(k) // map keys are sorted by encoding/json
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Record is a cached step result.
type Record struct {
	Key Key `json:"key"`
	// Layer is the step's layer, nil for a step without one.
	Layer *metadata.Layer `json:"layer,omitempty"`
	// Created is the history time of the step, reused on a hit so that a
	// cached rebuild gives the same image ID.
	Created time.Time `json:"created"`
	// Comment and EmptyLayer complete the history entry.
	Comment  string    `json:"comment,omitempty"`
	LastUsed time.Time `json:"lastUsed"`
	// Origin is the build that made the record: its Dockerfile and
	// target. A miss is explained by default only against the records of
	// the same origin (an unrelated Dockerfile's step on the same parent
	// says nothing of this one), against all with --explain-cache.
	Origin string `json:"origin,omitempty"`
	// Blobs is metadata.Roots' field: the layer blob stays alive as long
	// as the record.
	Blobs []digest.Digest `json:"blobs,omitempty"`
	// OnlyNew makes Save keep an existing record as it is (config-only
	// steps, bases: nothing to update).
	OnlyNew bool `json:"-"`
}

// Size is the stored size of what the record keeps alive.
func (r *Record) Size() int64 {
	if r.Layer == nil {
		return 0
	}
	return r.Layer.Size
}

const prefix = "step:"

// Cache reads and writes records in the store's cache bucket.
type Cache struct {
	DB *metadata.DB
}

// Get returns the record of a key digest, nil if there is none.
func (c *Cache) Get(kd string) (*Record, error) {
	var r Record
	err := c.DB.View(func(tx *metadata.Tx) error { return tx.Get(metadata.BucketCache, prefix+kd, &r) })
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Put stores records (one transaction).
func (c *Cache) Put(recs ...*Record) error { return c.Save(recs, nil, time.Time{}) }

// TouchInterval is how stale a record's LastUsed must be for a hit to
// rewrite it: a metadata write costs an fsync, which would be most of a
// fully cached build, and a size-bounded prune needs no finer clock.
const TouchInterval = 10 * time.Minute

// Save stores records and marks the records of hits as used at now, in
// one transaction (a build ends with one write, however many steps), and
// none at all when there is nothing new to say: a fully cached build
// writes nothing.
func (c *Cache) Save(recs []*Record, hits []string, now time.Time) error {
	if len(recs) == 0 && len(hits) == 0 {
		return nil
	}
	needed := false
	err := c.DB.View(func(tx *metadata.Tx) error {
		for _, r := range recs {
			if !r.OnlyNew || !tx.Has(metadata.BucketCache, prefix+r.Key.Digest()) {
				needed = true
				return nil
			}
		}
		for _, kd := range hits {
			var r Record
			if err := tx.Get(metadata.BucketCache, prefix+kd, &r); err == nil && now.Sub(r.LastUsed) >= TouchInterval {
				needed = true
				return nil
			}
		}
		return nil
	})
	if err != nil || !needed {
		return err
	}
	return c.DB.Update(func(tx *metadata.Tx) error {
		for _, kd := range hits {
			var r Record
			if err := tx.Get(metadata.BucketCache, prefix+kd, &r); err != nil {
				continue
			}
			if now.Sub(r.LastUsed) < TouchInterval {
				continue
			}
			r.LastUsed = now
			if err := tx.Put(metadata.BucketCache, prefix+kd, &r); err != nil {
				return err
			}
		}
		for _, r := range recs {
			if r.OnlyNew && tx.Has(metadata.BucketCache, prefix+r.Key.Digest()) {
				continue
			}
			r.Blobs = nil
			if r.Layer != nil {
				r.Blobs = []digest.Digest{r.Layer.Digest}
			}
			if err := tx.Put(metadata.BucketCache, prefix+r.Key.Digest(), r); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetUsable returns the record of a key digest if its layer is still in
// the store (a layer record exists), nil otherwise; one read transaction.
func (c *Cache) GetUsable(kd string) (*Record, error) {
	var r Record
	found := false
	err := c.DB.View(func(tx *metadata.Tx) error {
		if err := tx.Get(metadata.BucketCache, prefix+kd, &r); err != nil {
			if errdefs.IsNotFound(err) {
				return nil
			}
			return err
		}
		found = r.Layer == nil || tx.Has(metadata.BucketLayers, r.Layer.Digest.String())
		return nil
	})
	if err != nil || !found {
		return nil, err
	}
	return &r, nil
}

// All returns every record, keyed by key digest.
func (c *Cache) All() (map[string]*Record, error) {
	out := map[string]*Record{}
	err := c.DB.View(func(tx *metadata.Tx) error {
		return tx.ForEach(metadata.BucketCache, func(k string, raw []byte) error {
			if !strings.HasPrefix(k, prefix) {
				return nil
			}
			var r Record
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil // a damaged record is a miss, not a failed build
			}
			out[strings.TrimPrefix(k, prefix)] = &r
			return nil
		})
	})
	return out, err
}

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// All removes every record; otherwise only records whose layer no
	// image uses are removed (as `docker builder prune` keeps the cache
	// of what images need... and drops dangling cache).
	All bool
	// KeepStorage keeps the most recently used records whose layers
	// together take at most this many bytes (0: no bound).
	KeepStorage int64
	// InUse reports whether an image uses a layer blob.
	InUse func(digest.Digest) bool
	// Until keeps the records used at or after it (zero: no bound), as
	// docker's --filter until=.
	Until time.Time
}

// PruneResult says what was removed.
type PruneResult struct {
	Records int
	Bytes   int64 // layer bytes the removed records held
}

// Prune removes records; the caller then collects garbage so that their
// layers go unless an image holds them.
func (c *Cache) Prune(o PruneOptions) (PruneResult, error) {
	var res PruneResult
	err := c.DB.Update(func(tx *metadata.Tx) error {
		type kr struct {
			k string
			r Record
		}
		var all []kr
		err := tx.ForEach(metadata.BucketCache, func(k string, raw []byte) error {
			if !strings.HasPrefix(k, prefix) {
				return nil
			}
			var r Record
			if json.Unmarshal(raw, &r) != nil {
				all = append(all, kr{k: k}) // damaged: always removed
				return nil
			}
			all = append(all, kr{k, r})
			return nil
		})
		if err != nil {
			return err
		}
		// Newest first: the budget of KeepStorage goes to recent records.
		sort.Slice(all, func(i, j int) bool { return all[i].r.LastUsed.After(all[j].r.LastUsed) })
		var kept int64
		for _, e := range all {
			if !o.Until.IsZero() && !e.r.LastUsed.Before(o.Until) {
				kept += e.r.Size()
				continue
			}
			remove := o.All
			if !remove && o.KeepStorage > 0 {
				remove = kept+e.r.Size() > o.KeepStorage
			}
			if !remove && o.KeepStorage == 0 && e.r.Layer != nil && o.InUse != nil {
				remove = !o.InUse(e.r.Layer.Digest)
			}
			if !remove {
				kept += e.r.Size()
				continue
			}
			if err := tx.Delete(metadata.BucketCache, e.k); err != nil {
				return err
			}
			res.Records++
			res.Bytes += e.r.Size()
		}
		return nil
	})
	return res, err
}

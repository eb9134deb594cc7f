package builder

import (
	"context"
	"fmt"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/builder/cache"
	"github.com/strata-dev/strata/internal/metadata"
)

// RemoteCache is a second tier of the build cache, looked in after the
// store's own records: a registry's (see package remotecache). Its records
// name layers the store may not have; they are fetched only when the build
// needs their bytes.
type RemoteCache interface {
	// Lookup returns the record of a key digest, nil if there is none.
	// Its Layer describes the blob as the remote cache has it.
	Lookup(kd string) *cache.Record
	// Fetch brings the layer blobs into the store (verified, with their
	// layer records) and returns the store's records of them, in order.
	// The caller holds the store's Writing lock.
	Fetch(ctx context.Context, layers []metadata.Layer) ([]metadata.Layer, error)
}

// CacheExport receives the cache records of the built target after a
// successful build, while the store is still locked for writing (their
// layers are in the store, or in Pending: remote hits never fetched).
type CacheExport func(ctx context.Context, e *Export) error

// Export is what a build hands to a CacheExport.
type Export struct {
	// Records are the layer steps' records: with Options.CacheExportAll
	// every built stage's, otherwise those of the target image's layers.
	Records []*cache.Record
	// Pending maps the digest of a layer the store lacks (a remote hit
	// whose bytes were not needed) to the cache that has it.
	Pending map[digest.Digest]RemoteCache
}

// remoteHit is a record found in a remote cache, its layer not fetched yet.
type remoteHit struct {
	rec  *cache.Record
	from RemoteCache
}

// remoteState is the builder's view of the remote caches.
type remoteState struct {
	mu      sync.Mutex
	fetchMu sync.Mutex // one fetch at a time: stages share layers
	pending map[digest.Digest]*remoteHit
	fetched map[digest.Digest]metadata.Layer
}

// remoteLookup looks a key digest up in the remote caches; a hit's layer
// is remembered as pending until something needs its bytes.
func (b *builder) remoteLookup(kd string) *cache.Record {
	for _, rc := range b.o.CacheFrom {
		r := rc.Lookup(kd)
		if r == nil || r.Layer == nil {
			continue
		}
		rs := &b.remote
		rs.mu.Lock()
		if l, ok := rs.fetched[r.Layer.Digest]; ok {
			// Fetched already (another stage): use the store's record.
			rs.mu.Unlock()
			c := *r
			c.Layer = &l
			return &c
		}
		if rs.pending == nil {
			rs.pending = map[digest.Digest]*remoteHit{}
		}
		if _, ok := rs.pending[r.Layer.Digest]; !ok {
			rs.pending[r.Layer.Digest] = &remoteHit{rec: r, from: rc}
		}
		rs.mu.Unlock()
		return r
	}
	return nil
}

// ensureLayers fetches the pending remote layers among layers (in place:
// their entries become the store's records) and records the hits in the
// local cache, so the next build on this machine needs no registry.
func (b *builder) ensureLayers(ctx context.Context, layers []metadata.Layer) error {
	rs := &b.remote
	rs.fetchMu.Lock()
	defer rs.fetchMu.Unlock()
	rs.mu.Lock()
	byCache := map[RemoteCache][]metadata.Layer{}
	var order []RemoteCache
	for _, l := range layers {
		h, ok := rs.pending[l.Digest]
		if !ok {
			continue
		}
		if _, seen := byCache[h.from]; !seen {
			order = append(order, h.from)
		}
		byCache[h.from] = append(byCache[h.from], *h.rec.Layer)
	}
	rs.mu.Unlock()
	for _, rc := range order {
		want := dedupe(byCache[rc])
		got, err := rc.Fetch(ctx, want)
		if err != nil {
			return fmt.Errorf("import build cache: %w", err)
		}
		for i, l := range got {
			if l.DiffID != want[i].DiffID {
				return fmt.Errorf("import build cache: layer %s has diffID %s, the cache says %s", l.Digest, l.DiffID, want[i].DiffID)
			}
			rs.mu.Lock()
			h := rs.pending[want[i].Digest]
			delete(rs.pending, want[i].Digest)
			if rs.fetched == nil {
				rs.fetched = map[digest.Digest]metadata.Layer{}
			}
			rs.fetched[want[i].Digest] = l
			rs.mu.Unlock()
			if h != nil {
				local := l
				b.record(&cache.Record{Key: h.rec.Key, Layer: &local, Created: h.rec.Created, Comment: h.rec.Comment}, false)
			}
		}
	}
	rs.mu.Lock()
	for i, l := range layers {
		if f, ok := rs.fetched[l.Digest]; ok {
			layers[i] = f
		}
	}
	rs.mu.Unlock()
	return nil
}

func dedupe(ls []metadata.Layer) []metadata.Layer {
	seen := map[digest.Digest]bool{}
	var out []metadata.Layer
	for _, l := range ls {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			out = append(out, l)
		}
	}
	return out
}

// exportCache hands the records of the build to Options.CacheExport.
func (b *builder) exportCache(ctx context.Context, target *stage) error {
	if b.o.CacheExport == nil || target == nil || target.state == nil {
		return nil
	}
	var recs []*cache.Record
	seen := map[string]bool{}
	add := func(st *state) {
		for _, r := range st.recs {
			kd := r.Key.Digest()
			if !seen[kd] {
				seen[kd] = true
				recs = append(recs, r)
			}
		}
	}
	if b.o.CacheExportAll {
		for _, s := range b.stages {
			if s.state != nil && s.err == nil {
				add(s.state)
			}
		}
	} else {
		add(target.state)
	}
	e := &Export{Records: recs, Pending: map[digest.Digest]RemoteCache{}}
	b.remote.mu.Lock()
	for _, r := range recs {
		if r.Layer == nil {
			continue
		}
		if f, ok := b.remote.fetched[r.Layer.Digest]; ok {
			l := f
			r.Layer = &l
		} else if h, ok := b.remote.pending[r.Layer.Digest]; ok {
			e.Pending[r.Layer.Digest] = h.from
		}
	}
	b.remote.mu.Unlock()
	v := b.prog.Vertex("exporting cache")
	if err := b.o.CacheExport(ctx, e); err != nil {
		v.Error(err)
		return err
	}
	v.Done()
	return nil
}

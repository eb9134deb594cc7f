package ui

import (
	"context"
	"fmt"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/analyze"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/sbom"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/vuln"
)

// lastFew keeps the last few results of work that reads whole layers (an
// analysis, a package inventory), so that the browser asking again, as it
// does while a page draws, reads no layer again. One computation runs at
// a time.
type lastFew[V any] struct {
	mu    sync.Mutex
	max   int
	order []string
	byKey map[string]V
}

func newLastFew[V any](max int) *lastFew[V] {
	return &lastFew[V]{max: max, byKey: map[string]V{}}
}

// get returns key's result, computing it with compute when it is not kept.
func (c *lastFew[V]) get(key string, compute func() (V, error)) (V, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.byKey[key]; ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		return v, err
	}
	if len(c.order) >= c.max {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	c.order = append(c.order, key)
	c.byKey[key] = v
	return v, nil
}

// withSource runs fn on image id of st as a Source, closed before
// returning: an open store Source holds the writing lock, and a delete's
// garbage collection waits for none.
func withSource(st *store.Store, id digest.Digest, fn func(src image.Source) error) error {
	im, err := st.Image(id)
	if err != nil {
		return err
	}
	src, err := st.ImageSource(im, id.String())
	if err != nil {
		return err
	}
	defer src.Close()
	return fn(src)
}

// analysisCache keeps the last few analyses (an image up to a layer).
type analysisCache struct{ *lastFew[*analyze.Result] }

func newAnalysisCache(max int) *analysisCache {
	return &analysisCache{newLastFew[*analyze.Result](max)}
}

// get analyses image id of st up to layer upTo (-1: every layer); the
// full analysis keeps each layer's changes, for path search.
func (c *analysisCache) get(ctx context.Context, st *store.Store, id digest.Digest, upTo int) (*analyze.Result, error) {
	return c.lastFew.get(fmt.Sprintf("%s/%d", id, upTo), func() (r *analyze.Result, err error) {
		err = withSource(st, id, func(src image.Source) error {
			r, err = analyze.Analyze(ctx, src, analyze.Options{UpTo: upTo, KeepChanges: upTo < 0})
			return err
		})
		return r, err
	})
}

// inventoryCache keeps the package sections of the last few images shown.
type inventoryCache struct{ *lastFew[*ImagePackages] }

func newInventoryCache(max int) *inventoryCache {
	return &inventoryCache{newLastFew[*ImagePackages](max)}
}

// get lists the packages of image id of st per layer and, when db is not
// "", the findings of db's advisories.
func (c *inventoryCache) get(ctx context.Context, st *store.Store, id digest.Digest, db string) (*ImagePackages, error) {
	return c.lastFew.get(id.String()+"\x00"+db, func() (*ImagePackages, error) {
		var inv *sbom.SBOM
		err := withSource(st, id, func(src image.Source) (err error) {
			inv, err = sbom.Generate(ctx, src)
			return err
		})
		if err != nil {
			return nil, err
		}
		return perLayer(inv, db)
	})
}

// perLayer sorts an inventory and its findings by layer.
func perLayer(inv *sbom.SBOM, db string) (*ImagePackages, error) {
	p := &ImagePackages{DB: db, Warnings: append([]string{}, inv.Warnings...)}
	for _, l := range inv.Layers {
		p.Layers = append(p.Layers, LayerPackages{Index: l.Index, Packages: []sbom.Package{}, Findings: []vuln.Finding{}})
	}
	for _, pkg := range inv.Packages {
		p.Layers[pkg.Layer].Packages = append(p.Layers[pkg.Layer].Packages, pkg)
	}
	if db == "" {
		return p, nil
	}
	rep, err := vuln.Scan(inv, db)
	if err != nil {
		return nil, err
	}
	p.Warnings = append(p.Warnings, rep.Warnings...)
	for _, f := range rep.Findings {
		p.Layers[f.Layer].Findings = append(p.Layers[f.Layer].Findings, f)
	}
	return p, nil
}

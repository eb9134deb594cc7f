package ui

import (
	"context"
	"fmt"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/analyze"
	"github.com/strata-dev/strata/internal/store"
)

// analysisCache keeps the last few analyses (an image up to a layer), so
// that opening a directory after another reads no layer again. One
// analysis runs at a time: they read whole layers, and the browser asks
// for the same one several times while a page draws.
type analysisCache struct {
	mu    sync.Mutex
	max   int
	order []string
	byKey map[string]*analyze.Result
}

func newAnalysisCache(max int) *analysisCache {
	return &analysisCache{max: max, byKey: map[string]*analyze.Result{}}
}

// get analyses image id of st up to layer upTo (-1: every layer); the
// full analysis keeps each layer's changes, for path search.
func (c *analysisCache) get(ctx context.Context, st *store.Store, id digest.Digest, upTo int) (*analyze.Result, error) {
	key := fmt.Sprintf("%s/%d", id, upTo)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.byKey[key]; ok {
		return r, nil
	}
	im, err := st.Image(id)
	if err != nil {
		return nil, err
	}
	src, err := st.ImageSource(im, id.String())
	if err != nil {
		return nil, err
	}
	// Closed before returning: an open store Source holds the writing
	// lock, and a delete's garbage collection waits for none.
	r, err := analyze.Analyze(ctx, src, analyze.Options{UpTo: upTo, KeepChanges: upTo < 0})
	src.Close()
	if err != nil {
		return nil, err
	}
	if len(c.order) >= c.max {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	c.order = append(c.order, key)
	c.byKey[key] = r
	return r, nil
}

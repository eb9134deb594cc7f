package builder

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-dev/strata/internal/builder/cache"
	"github.com/strata-dev/strata/internal/builder/progress"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/rewrite"
)

// Squash says which layers of a build's image become one (podman build's
// --squash and --squash-all).
type Squash int

const (
	// NoSquash keeps one layer per step.
	NoSquash Squash = iota
	// SquashNew merges the layers the target stage added above its base
	// (the image or stage its FROM names); the base's layers stay the
	// same blobs, shared with it. From scratch, that is every layer.
	SquashNew
	// SquashAll merges every layer of the image, its base's included.
	SquashAll
)

// squash merges the layers of the target image (config cfg, layers)
// from index base up (SquashNew) or all of them (SquashAll) with
// rewrite.SquashLayers, the code of `image squash`: the history keeps
// every entry, as empty_layer, plus one for the squash. Only the image is
// squashed: the steps' layers stay as the build cache has them, so the
// next build is CACHED step by step, and the unsquashed image is never
// stored. The merged layer is a cache record of its own, keyed by the
// layers it merges (their chain ID) and where the range starts, so a
// rebuild merges nothing again; its time is the image's (its newest
// step's), so a rebuild from the cache gives the same image ID. A stage
// that added no layer to its base is left as it is.
func (b *builder) squash(ctx context.Context, v *progress.Vertex, cfg *image.ConfigFile, layers []metadata.Layer, base int, created time.Time) (*image.ConfigFile, []metadata.Layer, error) {
	o := rewrite.SquashOptions{From: base, Created: &created, CreatedBy: "strata build --squash"}
	if b.o.Squash == SquashAll {
		o.From, o.CreatedBy = 0, "strata build --squash-all"
	}
	if o.From >= len(layers) {
		v.Note("squash: the stage adds no layer to its base, nothing to merge")
		return cfg, layers, nil
	}
	src, err := newBuiltImage(b.st, cfg, layers)
	if err != nil {
		return nil, nil, err
	}
	k := cache.Key{Instruction: fmt.Sprintf("SQUASH layers %d to %d", o.From, len(layers)-1), Sources: chainID(layers).String()}
	kd := k.Digest()
	what := fmt.Sprintf("squashing layers %d to %d into one", o.From, len(layers)-1)
	if !b.o.NoCache {
		rec, err := b.cache.GetUsable(kd)
		if err != nil {
			return nil, nil, err
		}
		if rec != nil && rec.Layer != nil {
			v.Note(what + ": CACHED")
			b.mu.Lock()
			b.hits = append(b.hits, kd)
			b.mu.Unlock()
			sq, out := rewrite.Squashed(src, o, *rec.Layer)
			copy(out[:o.From], layers[:o.From]) // the same layers, with their records' sizes
			return sq, out, nil
		}
	}
	// The build holds the store's writing lock until the image is added
	// (or, with --output, the record below is saved), so the merged
	// layer, referred to by nothing until then, stays.
	sq, out, err := rewrite.SquashLayers(ctx, b.st, src, o)
	if err != nil {
		return nil, nil, err
	}
	merged := out[len(out)-1]
	b.record(&cache.Record{Key: k, Layer: &merged, Created: created}, false)
	v.Note(what + " done")
	return sq, out, nil
}

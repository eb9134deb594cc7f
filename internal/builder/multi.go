package builder

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/builder/progress"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// A build for several platforms (--platform linux/amd64,linux/arm64) is
// one build per target, one after the other, each committing an image
// without a name; once all succeeded, the tags name an index of them
// (store.PutIndex). The targets share the build cache: a step's key holds
// its stage's platform and the build args it can see, so a stage FROM
// --platform=$BUILDPLATFORM runs for the first target and is a cache hit
// for the others up to its first use of a TARGET* argument, which is
// BuildKit's sharing (it merges equal vertices of the targets' graphs).

// ParsePlatforms reads a --platform list: comma-separated OS/ARCH[/VARIANT]
// values or "local" (this machine's), normalized, each once.
func ParsePlatforms(s string) ([]image.Platform, error) {
	var out []image.Platform
	seen := map[image.Platform]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var p image.Platform
		if f == "local" {
			p = hostPlatform()
		} else {
			var err error
			if p, err = image.ParsePlatform(f); err != nil {
				return nil, err
			}
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// MultiResult is what a build of several platforms made.
type MultiResult struct {
	Index   *metadata.Index
	Results []*Result // one per platform, in the order asked
}

// BuildPlatforms builds o for every platform and, when all succeeded,
// stores the index of their images under o.Tags (an unnamed index without
// tags). A failure leaves no name and no image of this build: the images
// of the targets built before it are removed again (their steps stay in
// the build cache).
func BuildPlatforms(ctx context.Context, st *store.Store, o Options, platforms []image.Platform) (*MultiResult, error) {
	if o.Output != nil {
		return nil, errdefs.InvalidArgument(errors.New("--output with several platforms is not supported: build one platform per --output"))
	}
	// --cache-to: one export of every target's records, once all built
	// (their keys hold their platforms, so they never collide; a step the
	// targets share is exported once).
	export := o.CacheExport
	merged := &Export{Pending: map[digest.Digest]RemoteCache{}}
	seen := map[string]bool{}
	if export != nil {
		o.CacheExport = func(_ context.Context, e *Export) error {
			for _, r := range e.Records {
				if k := r.Key.Digest(); !seen[k] {
					seen[k] = true
					merged.Records = append(merged.Records, r)
				}
			}
			maps.Copy(merged.Pending, e.Pending)
			return nil
		}
	}
	if o.Progress == nil {
		o.Progress = progress.New(nil, progress.Quiet)
	}
	before, err := st.Images()
	if err != nil {
		return nil, err
	}
	existed := map[string]bool{}
	for _, im := range before {
		existed[im.ID.String()] = true
	}
	tags := o.Tags
	o.Tags, o.labelPlatform = nil, true
	res := &MultiResult{}
	var imgs []*metadata.Image
	fail := func(err error) (*MultiResult, error) {
		for _, im := range imgs {
			// Only an image this build added: one that was there before
			// (a rebuild from the cache) stays as it was.
			if existed[im.ID.String()] {
				continue
			}
			if _, rerr := st.Remove(im.ID.String(), true); rerr != nil && !errdefs.IsNotFound(rerr) {
				return nil, fmt.Errorf("%w (and removing its %s image failed: %v)", err, im.ID, rerr)
			}
		}
		return nil, err
	}
	for _, p := range platforms {
		po := o
		po.Platform = p.String()
		r, err := Build(ctx, st, po)
		if err != nil {
			return fail(err)
		}
		im, err := st.Image(r.ImageID)
		if err != nil {
			return fail(err)
		}
		imgs = append(imgs, im)
		res.Results = append(res.Results, r)
	}
	ix, err := st.PutIndex(imgs, tags)
	if err != nil {
		return fail(err)
	}
	res.Index = ix
	if export != nil {
		// As for one platform, the image stays when the export fails.
		v := o.Progress.Vertex("exporting cache for " + platformList(platforms))
		if err := export(ctx, merged); err != nil {
			v.Error(err)
			return nil, err
		}
		v.Done()
	}
	return res, nil
}

func platformList(ps []image.Platform) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, ",")
}

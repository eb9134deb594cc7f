package cli

import (
	"context"
	"fmt"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
)

// run's and create's --pull values: when the image is pulled before a
// container is made of it.
const (
	pullMissing = "missing" // docker's default: only when the store lacks it
	pullAlways  = "always"
	pullNever   = "never"
)

func checkPullPolicy(p string) error {
	switch p {
	case pullMissing, pullAlways, pullNever:
		return nil
	}
	return fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never"`, p)
}

// ensureImage pulls ref as policy says, with docker's messages and
// progress on stderr (stdout is the container's): "Unable to find image
// 'busybox:latest' locally" first when it was missing.
// A nil platform is this machine's.
func (a *app) ensureImage(ctx context.Context, st *store.Store, ref, policy string, platform *image.Platform) error {
	switch policy {
	case pullNever:
		return nil
	case pullMissing:
		_, err := st.Resolve(ref)
		if !errdefs.IsNotFound(err) || image.LooksLikeID(ref) {
			return nil // there, or an error create reports as it is
		}
	}
	r, err := image.ParseReference(ref)
	if err != nil {
		return err
	}
	if policy == pullMissing {
		fmt.Fprintf(a.stderr, "Unable to find image '%s' locally\n", r.Familiar())
	}
	cl, done, err := registryClientTo(registryFlags{tlsVerify: true, maxConcurrent: 3}, false, a.stderr)
	if err != nil {
		return err
	}
	what := pullWhat{platform: image.HostPlatform()}
	if platform != nil {
		what.platform = *platform
	}
	_, err = pullOne(ctx, cl, st, ref, what, a.stderr, false)
	done()
	return err
}

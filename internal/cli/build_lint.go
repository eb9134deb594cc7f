package cli

import (
	"context"
	"io"
	"path/filepath"
	"strings"

	"github.com/strata-dev/strata/internal/builder"
	"github.com/strata-dev/strata/internal/builder/lint"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
)

// lintBuild runs BuildKit's Dockerfile rules on the build's Dockerfile,
// with base image configs from the store (nothing is pulled).
func lintBuild(ctx context.Context, st *store.Store, o builder.Options, allStages bool) (*lint.Result, error) {
	lo := lint.Options{Filename: "Dockerfile", BuildArgs: o.BuildArgs, BaseConfig: storeConfig(st, o.Contexts)}
	if o.DockerfilePath != "" {
		lo.Filename = filepath.Base(o.DockerfilePath) // as buildx names it
	}
	if !allStages {
		lo.Target = o.Target
	}
	if o.Platform != "" {
		ps, err := builder.ParsePlatforms(o.Platform)
		if err != nil {
			return nil, err
		}
		lo.Platform = ps[0] // the rules do not depend on the target
	}
	return lint.Check(ctx, o.Dockerfile, lo)
}

// storeConfig reads a base image's config from the store, when it has
// the image for the platform (the image a --build-context names for it).
func storeConfig(st *store.Store, contexts map[string]builder.NamedContext) func(ref string, p image.Platform) []byte {
	return func(ref string, p image.Platform) []byte {
		// BuildKit asks for the normalized name (docker.io/library/NAME:latest).
		for name, nc := range contexts {
			if r, err := image.ParseReference(name); err == nil && nc.Image != "" && (name == strings.ToLower(ref) || r.String() == ref) {
				ref = nc.Image
			}
		}
		src, err := st.Source(ref)
		if err != nil {
			return nil
		}
		defer src.Close()
		cfg := src.Config()
		have := image.Platform{OS: cfg.File.OS, Architecture: cfg.File.Architecture, Variant: cfg.File.Variant}
		if !p.Runs(image.NormalizePlatform(have)) {
			return nil
		}
		return cfg.Raw
	}
}

// errCheckWarnings makes `build --check` exit 1 when a rule was broken, as
// docker's does; the report says which.
var errCheckWarnings = &errdefs.ExitError{Code: 1}

// buildCheck is `build --check`: the rules checked and reported on w,
// nothing built.
func buildCheck(ctx context.Context, st *store.Store, o builder.Options, w io.Writer) error {
	res, err := lintBuild(ctx, st, o, o.Target == "")
	if err != nil {
		return err
	}
	if err := res.PrintCheck(w); err != nil {
		return err
	}
	if len(res.Warnings) > 0 || res.Error != "" {
		return errCheckWarnings
	}
	return nil
}

// buildWarnings prints, after a build, the rules its Dockerfile broke, as
// BuildKit lists them at the end of its progress output.
func buildWarnings(ctx context.Context, st *store.Store, o builder.Options, w io.Writer) {
	res, err := lintBuild(ctx, st, o, false)
	if err != nil {
		return // the build succeeded: a check that cannot run is no reason to fail it
	}
	res.PrintSummary(w)
}

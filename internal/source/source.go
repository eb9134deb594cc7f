// Package source opens an image.Source from the reference a user types:
// one function that knows every place an image can be read from, so each
// command that reads images (analyze, save, push, and the coming scan and
// squash) accepts all of them alike.
//
//	docker-archive:FILE[:NAME|:@N]  an archive docker save or strata save wrote
//	oci-archive:FILE[:NAME|:@N]     an OCI layout in a tar
//	oci:DIR[:NAME|:@N]              an OCI layout directory
//	docker://NAME, registry:NAME    an image in a registry, read without pulling it
//	NAME or ID                      an image of the store
//
// As in skopeo, text after the path and a ':' picks one image of an
// archive holding several (a name it has, or @N for the Nth from 0); the
// path is the part that exists, so paths with ':' still work.
package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/store"
)

// Options are the places Open may read from. Each is a function so that
// only the one a reference needs is opened: analysing an archive opens no
// store, reading the store builds no registry client.
type Options struct {
	// Store opens the image store, for plain names and IDs.
	Store func() (*store.Store, error)
	// Registry gives the client for docker:// and registry: references,
	// made by the caller so that its TLS and insecure-registry settings
	// are the caller's.
	Registry func() (*registry.Client, error)
	// Platform picks the manifest of an index in a registry.
	Platform image.Platform
	// StorePlatform, when set, picks the image of a multi-platform image
	// of the store (and refuses a stored image of another platform);
	// otherwise a stored name means this machine's image.
	StorePlatform *image.Platform
}

// archivePrefixes are the transports whose rest is a path.
var archivePrefixes = []string{"docker-archive:", "oci-archive:", "oci:"}

// registryPrefixes are the transports whose rest is a registry reference.
var registryPrefixes = []string{"docker://", "registry:"}

// Open opens the image ref names. The caller closes it.
func Open(ctx context.Context, ref string, o Options) (image.Source, error) {
	for _, t := range archivePrefixes {
		p, ok := strings.CutPrefix(ref, t)
		if !ok {
			continue
		}
		if p == "" {
			return nil, fmt.Errorf("%s needs a path", t)
		}
		path, pick := splitPick(p)
		if t == "oci:" {
			path = t + path // archive.Open reads a layout directory for it
		}
		return archive.OpenImage(path, pick)
	}
	for _, t := range registryPrefixes {
		name, ok := strings.CutPrefix(ref, t)
		if !ok {
			continue
		}
		if o.Registry == nil {
			return nil, errors.New(ref + ": no registry client to read it with")
		}
		cl, err := o.Registry()
		if err != nil {
			return nil, err
		}
		return cl.OpenRemote(ctx, name, o.Platform)
	}
	if o.Store == nil {
		return nil, errors.New(ref + ": no store to read it from")
	}
	st, err := o.Store()
	if err != nil {
		return nil, err
	}
	if o.StorePlatform != nil {
		im, err := st.ResolvePlatform(ref, *o.StorePlatform)
		if err != nil {
			return nil, err
		}
		return st.ImageSource(im, ref)
	}
	return st.Source(ref)
}

// splitPick splits PATH[:PICK]: the path is the shortest prefix before a
// ':' that exists (a pick is a name, which has ':' of its own), or the
// whole text when it exists or no prefix does.
func splitPick(p string) (path, pick string) {
	if _, err := os.Stat(p); err == nil {
		return p, ""
	}
	for i := range len(p) {
		if p[i] != ':' || i == 0 {
			continue
		}
		if _, err := os.Stat(p[:i]); err == nil {
			return p[:i], p[i+1:]
		}
	}
	return p, ""
}

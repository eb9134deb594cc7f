package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

// ErrNoSuchImage is returned when a name or ID matches no image.
//
//lint:ignore ST1005 docker's words, which scripts match
var ErrNoSuchImage = errdefs.NotFound(errors.New("No such image"))

// Images returns every image record, sorted newest first (as docker lists).
func (s *Store) Images() ([]*metadata.Image, error) {
	var out []*metadata.Image
	err := s.Meta.View(func(tx *metadata.Tx) error {
		var err error
		out, err = images(tx)
		return err
	})
	return out, err
}

func images(tx *metadata.Tx) ([]*metadata.Image, error) {
	var out []*metadata.Image
	err := tx.ForEach(metadata.BucketImages, func(_ string, raw []byte) error {
		var im metadata.Image
		if err := json.Unmarshal(raw, &im); err != nil {
			return fmt.Errorf("metadata image record is damaged: %w", err)
		}
		out = append(out, &im)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// Names maps each image ID to its names (full references), sorted.
func (s *Store) Names() (map[digest.Digest][]string, error) {
	out := map[digest.Digest][]string{}
	err := s.Meta.View(func(tx *metadata.Tx) error {
		var err error
		out, err = names(tx)
		return err
	})
	return out, err
}

func names(tx *metadata.Tx) (map[digest.Digest][]string, error) {
	out := map[digest.Digest][]string{}
	err := tx.ForEach(metadata.BucketNames, func(name string, raw []byte) error {
		var id digest.Digest
		if err := json.Unmarshal(raw, &id); err != nil {
			return fmt.Errorf("metadata name record %s is damaged: %w", name, err)
		}
		out[id] = append(out[id], name)
		return nil
	})
	for _, v := range out {
		sort.Strings(v)
	}
	return out, err
}

// Resolve finds the image a user means by s: a name (busybox =
// docker.io/library/busybox:latest), name@digest, a full image ID or a unique
// ID prefix.
func (s *Store) Resolve(ref string) (*metadata.Image, error) {
	var out *metadata.Image
	err := s.Meta.View(func(tx *metadata.Tx) error {
		var err error
		out, err = resolve(tx, ref)
		return err
	})
	return out, err
}

// resolve finds an image by name or ID; a name (or ID) of a multi-platform
// image means its entry for this machine's platform.
func resolve(tx *metadata.Tx, s string) (*metadata.Image, error) {
	im, err := resolveImage(tx, s)
	if err == nil || !errors.Is(err, ErrNoSuchImage) {
		return im, err
	}
	ix, ierr := resolveIndex(tx, s)
	if ierr != nil {
		if errdefs.IsNotFound(ierr) {
			return nil, err
		}
		return nil, ierr
	}
	return entryFor(tx, ix, s, image.HostPlatform())
}

func resolveImage(tx *metadata.Tx, s string) (*metadata.Image, error) {
	notFound := fmt.Errorf("%w: %s", ErrNoSuchImage, s)
	if r, err := image.ParseReference(s); err == nil {
		if d := r.Digest(); d != "" {
			all, err := images(tx)
			if err != nil {
				return nil, err
			}
			for _, im := range all {
				if string(im.Manifest.Digest) == d && r.Repository() != "" {
					for _, rd := range im.RepoDigests {
						if rd == r.String() {
							return im, nil
						}
					}
				}
			}
			for _, im := range all {
				for _, rd := range im.RepoDigests {
					if strings.HasSuffix(rd, "@"+d) && strings.HasPrefix(rd, r.Repository()+"@") {
						return im, nil
					}
				}
			}
		} else {
			var id digest.Digest
			err := tx.Get(metadata.BucketNames, r.String(), &id)
			if err == nil {
				return getImage(tx, id)
			}
			if !errdefs.IsNotFound(err) {
				return nil, err
			}
		}
	}
	if !image.LooksLikeID(s) {
		return nil, notFound
	}
	prefix := "sha256:" + strings.TrimPrefix(s, "sha256:")
	var match *metadata.Image
	all, err := images(tx)
	if err != nil {
		return nil, err
	}
	for _, im := range all {
		if strings.HasPrefix(string(im.ID), prefix) {
			if match != nil {
				return nil, fmt.Errorf("image ID prefix %q is ambiguous: it matches %s and %s", s, match.ID.Encoded()[:12], im.ID.Encoded()[:12])
			}
			match = im
		}
	}
	if match == nil {
		return nil, notFound
	}
	return match, nil
}

func getImage(tx *metadata.Tx, id digest.Digest) (*metadata.Image, error) {
	var im metadata.Image
	if err := tx.Get(metadata.BucketImages, id.String(), &im); err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %s", ErrNoSuchImage, id)
		}
		return nil, err
	}
	return &im, nil
}

// Image returns the image with exactly this ID.
func (s *Store) Image(id digest.Digest) (*metadata.Image, error) {
	var out *metadata.Image
	err := s.Meta.View(func(tx *metadata.Tx) (err error) {
		out, err = getImage(tx, id)
		return err
	})
	return out, err
}

// Config reads and parses an image's config blob.
func (s *Store) Config(im *metadata.Image) (*image.ConfigFile, []byte, error) {
	b, err := s.Content.ReadAll(im.Config.Digest, image.MaxManifestSize)
	if err != nil {
		return nil, nil, err
	}
	c, err := image.ParseConfigFile(b)
	return c, b, err
}

// Tag points the name ref at image id (or at the multi-platform image
// whose index digest id is).
func (s *Store) Tag(id digest.Digest, ref image.Reference) error {
	return s.Meta.Update(func(tx *metadata.Tx) error {
		if _, ok, err := getIndex(tx, id); err != nil || ok {
			if err == nil && ref.IsDigest() {
				err = fmt.Errorf("cannot tag with a digest reference %s", ref.Familiar())
			}
			if err != nil {
				return err
			}
			return tx.Put(metadata.BucketNames, ref.String(), id)
		}
		im, err := getImage(tx, id)
		if err != nil {
			return err
		}
		return tag(tx, im, ref)
	})
}

func tag(tx *metadata.Tx, im *metadata.Image, ref image.Reference) error {
	if ref.IsDigest() {
		return fmt.Errorf("cannot tag with a digest reference %s", ref.Familiar())
	}
	if err := tx.Put(metadata.BucketNames, ref.String(), im.ID); err != nil {
		return err
	}
	im.LastTagTime = time.Now().UTC()
	return tx.Put(metadata.BucketImages, im.ID.String(), im)
}

// LayerRecord returns what the store knows of a layer blob.
func (s *Store) LayerRecord(blob digest.Digest) (*metadata.Layer, error) {
	var l metadata.Layer
	err := s.Meta.View(func(tx *metadata.Tx) error { return tx.Get(metadata.BucketLayers, blob.String(), &l) })
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// PutLayerRecord records what a layer blob holds, so that a later load of
// the same blob needs neither to read nor to store it again.
func (s *Store) PutLayerRecord(l metadata.Layer) error {
	return s.Meta.Update(func(tx *metadata.Tx) error { return tx.Put(metadata.BucketLayers, l.Digest.String(), l) })
}

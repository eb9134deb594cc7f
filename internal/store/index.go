package store

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

// A multi-platform image is stored as an index record (metadata.Index):
// the index blob, byte for byte as it came (its digest is its name in a
// registry), and one entry per platform that is an image record of the
// store. A name points at the index; the entries are images like any
// other, usually without names of their own, kept while an index has them
// (they are image records, so GC roots) and removed with the index's last
// name when nothing else holds them. Everything that wants one image of a
// name (run, history, save to docker-archive, a build's FROM) gets the
// entry of this machine's platform (Resolve) or of the one asked for
// (ResolvePlatform).

// AddIndex makes the index blob (already stored, with every entry's image
// already added) visible as a multi-platform image, names pointing at it,
// in one metadata transaction. Entries that are not image manifests (an
// attestation manifest, a nested index) are left out of the record but
// stay in the blob.
func (s *Store) AddIndex(index digest.Digest, names []image.Reference, repoDigests []string) (*metadata.Index, error) {
	b, err := s.Content.ReadAll(index, image.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	idx, mt, err := image.ParseIndex(b)
	if err != nil {
		return nil, err
	}
	ix := &metadata.Index{Digest: index, MediaType: mt, Size: int64(len(b)), RepoDigests: repoDigests, Added: time.Now().UTC()}
	err = s.Meta.Update(func(tx *metadata.Tx) error {
		all, err := images(tx)
		if err != nil {
			return err
		}
		byManifest := map[digest.Digest]*metadata.Image{}
		for _, im := range all {
			byManifest[im.Manifest.Digest] = im
		}
		for _, d := range idx.Manifests {
			if !image.IsManifest(d.MediaType) || d.Platform == nil || d.Platform.OS == "unknown" {
				continue
			}
			im := byManifest[d.Digest]
			if im == nil {
				return fmt.Errorf("index %s: the image of its %s entry (manifest %s) is not in the store", short(index), platformOf(*d.Platform), short(d.Digest))
			}
			ix.Entries = append(ix.Entries, metadata.IndexEntry{Platform: *d.Platform, Manifest: d.Digest, Image: im.ID})
		}
		if len(ix.Entries) == 0 {
			return errdefs.InvalidArgument(fmt.Errorf("index %s has no image for any platform", short(index)))
		}
		var old metadata.Index
		if err := tx.Get(metadata.BucketIndexes, index.String(), &old); err == nil {
			ix.Added = old.Added
			ix.RepoDigests = image.MergeNames(old.RepoDigests, ix.RepoDigests)
		}
		if err := tx.Put(metadata.BucketIndexes, index.String(), ix); err != nil {
			return err
		}
		for _, n := range names {
			if n.IsDigest() {
				return fmt.Errorf("cannot tag with a digest reference %s", n.Familiar())
			}
			if err := tx.Put(metadata.BucketNames, n.String(), index); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ix, nil
}

// PutIndex writes an OCI image index of the images (each entry's platform
// from its config, in the order given) and adds it with AddIndex.
func (s *Store) PutIndex(imgs []*metadata.Image, names []image.Reference) (*metadata.Index, error) {
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for _, im := range imgs {
		cfg, _, err := s.Config(im)
		if err != nil {
			return nil, err
		}
		p := cfg.Platform
		d := im.Manifest
		d.Platform = &ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
		idx.Manifests = append(idx.Manifests, d)
	}
	d, err := s.PutJSON(ocispec.MediaTypeImageIndex, idx)
	if err != nil {
		return nil, err
	}
	return s.AddIndex(d.Digest, names, nil)
}

func platformOf(p ocispec.Platform) image.Platform {
	return image.NormalizePlatform(image.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
}

// EntryPlatform is the platform of an index entry, normalized.
func EntryPlatform(e metadata.IndexEntry) image.Platform { return platformOf(e.Platform) }

// Indexes returns every index record, in digest order.
func (s *Store) Indexes() ([]*metadata.Index, error) {
	var out []*metadata.Index
	err := s.Meta.View(func(tx *metadata.Tx) (err error) {
		out, err = indexes(tx)
		return err
	})
	return out, err
}

func indexes(tx *metadata.Tx) ([]*metadata.Index, error) {
	var out []*metadata.Index
	err := tx.ForEach(metadata.BucketIndexes, func(key string, raw []byte) error {
		var ix metadata.Index
		if err := json.Unmarshal(raw, &ix); err != nil {
			return fmt.Errorf("metadata index record %s is damaged: %w", key, err)
		}
		out = append(out, &ix)
		return nil
	})
	return out, err
}

func getIndex(tx *metadata.Tx, d digest.Digest) (*metadata.Index, bool, error) {
	var ix metadata.Index
	err := tx.Get(metadata.BucketIndexes, d.String(), &ix)
	if errdefs.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return &ix, true, nil
}

// Index returns the multi-platform image ref names (a name, name@digest,
// the index digest or a unique prefix of it), or an error that
// errdefs.IsNotFound when ref is not one (it may still be an image).
func (s *Store) Index(ref string) (*metadata.Index, error) {
	var out *metadata.Index
	err := s.Meta.View(func(tx *metadata.Tx) (err error) {
		out, err = resolveIndex(tx, ref)
		return err
	})
	return out, err
}

func resolveIndex(tx *metadata.Tx, s string) (*metadata.Index, error) {
	notFound := errdefs.NotFound(fmt.Errorf("%s is not a multi-platform image", s))
	if r, err := image.ParseReference(s); err == nil {
		if d := r.Digest(); d != "" {
			ix, ok, err := getIndex(tx, digest.Digest(d))
			if err != nil || !ok {
				return nil, notFoundOr(err, notFound)
			}
			for _, rd := range ix.RepoDigests {
				if strings.HasPrefix(rd, r.Repository()+"@") {
					return ix, nil
				}
			}
			return nil, notFound
		}
		var id digest.Digest
		if err := tx.Get(metadata.BucketNames, r.String(), &id); err == nil {
			ix, ok, err := getIndex(tx, id)
			if err != nil || !ok {
				return nil, notFoundOr(err, notFound)
			}
			return ix, nil
		}
	}
	if !image.LooksLikeID(s) {
		return nil, notFound
	}
	prefix := "sha256:" + strings.TrimPrefix(s, "sha256:")
	all, err := indexes(tx)
	if err != nil {
		return nil, err
	}
	var match *metadata.Index
	for _, ix := range all {
		if strings.HasPrefix(ix.Digest.String(), prefix) {
			if match != nil {
				return nil, fmt.Errorf("image ID prefix %q is ambiguous: it matches %s and %s", s, short(match.Digest), short(ix.Digest))
			}
			match = ix
		}
	}
	if match == nil {
		return nil, notFound
	}
	return match, nil
}

func notFoundOr(err, nf error) error {
	if err != nil {
		return err
	}
	return nf
}

// PlatformError is a multi-platform image without an image for the
// platform asked for.
type PlatformError struct {
	Ref  string
	Want image.Platform
	Have []string
}

func (e *PlatformError) Error() string {
	return fmt.Sprintf("%s: no image for %s in this multi-platform image (it has: %s)", e.Ref, e.Want, strings.Join(e.Have, ", "))
}

// PickEntry chooses the entry of ix for platform want as docker picks the
// manifest of an index: the same OS and architecture, the variant asked
// for if there is one, else the best one want runs.
func PickEntry(ix *metadata.Index, want image.Platform) (metadata.IndexEntry, bool) {
	best := -1
	for i, e := range ix.Entries {
		have := platformOf(e.Platform)
		if !want.Runs(have) {
			continue
		}
		if best < 0 || have.Variant == want.Variant && platformOf(ix.Entries[best].Platform).Variant != want.Variant {
			best = i
		}
	}
	if best < 0 {
		return metadata.IndexEntry{}, false
	}
	return ix.Entries[best], true
}

func entryFor(tx *metadata.Tx, ix *metadata.Index, ref string, want image.Platform) (*metadata.Image, error) {
	e, ok := PickEntry(ix, want)
	if !ok {
		var have []string
		for _, e := range ix.Entries {
			have = append(have, platformOf(e.Platform).String())
		}
		sort.Strings(have)
		return nil, errdefs.NotFound(&PlatformError{Ref: ref, Want: want, Have: have})
	}
	return getImage(tx, e.Image)
}

// ResolvePlatform finds the image of platform p that ref means: the entry
// for p of a multi-platform image, or an image whose config states a
// platform p runs (an image that states none is taken).
func (s *Store) ResolvePlatform(ref string, p image.Platform) (*metadata.Image, error) {
	var out *metadata.Image
	err := s.Meta.View(func(tx *metadata.Tx) error {
		ix, err := resolveIndex(tx, ref)
		if err == nil {
			out, err = entryFor(tx, ix, ref, p)
			return err
		}
		if !errdefs.IsNotFound(err) {
			return err
		}
		out, err = resolve(tx, ref)
		return err
	})
	if err != nil {
		return nil, err
	}
	cfg, _, err := s.Config(out)
	if err != nil {
		return nil, err
	}
	have := image.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	if !p.Runs(have) {
		return nil, errdefs.NotFound(fmt.Errorf("image with reference %s was found but its platform (%s) does not match the specified platform (%s)", ref, image.NormalizePlatform(have), p))
	}
	return out, nil
}

// indexedImages lists the image IDs some index has as an entry.
func indexedImages(tx *metadata.Tx) (map[digest.Digest]bool, error) {
	all, err := indexes(tx)
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest]bool{}
	for _, ix := range all {
		for _, id := range ix.Images() {
			out[id] = true
		}
	}
	return out, nil
}

// IndexedImages lists the image IDs that are entries of a multi-platform
// image (listed under it rather than as images of their own).
func (s *Store) IndexedImages() (map[digest.Digest]bool, error) {
	var out map[digest.Digest]bool
	err := s.Meta.View(func(tx *metadata.Tx) (err error) {
		out, err = indexedImages(tx)
		return err
	})
	return out, err
}

// removeIndex removes a multi-platform image's name ref, or (byID) all its
// names; with its last name the index record goes, and each entry image
// that has no name, no container and no other index with it.
func removeIndex(tx *metadata.Tx, ix *metadata.Index, ref string, byID, force bool, rm *Removal) error {
	allNames, err := names(tx)
	if err != nil {
		return err
	}
	mine := allNames[ix.Digest]
	untag := mine
	if !byID {
		r, err := image.ParseReference(ref)
		if err == nil && !r.IsDigest() {
			untag = []string{r.String()}
		}
	} else {
		repos := map[string]bool{}
		for _, n := range mine {
			repos[repoOf(n)] = true
		}
		if len(repos) > 1 && !force {
			return errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short(ix.Digest)))
		}
	}
	for _, n := range untag {
		if err := tx.Delete(metadata.BucketNames, n); err != nil {
			return err
		}
		rm.Untagged = append(rm.Untagged, familiar(n))
	}
	if len(mine) > len(untag) {
		return nil
	}
	for _, rd := range ix.RepoDigests {
		rm.Untagged = append(rm.Untagged, familiar(rd))
	}
	if err := tx.Delete(metadata.BucketIndexes, ix.Digest.String()); err != nil {
		return err
	}
	rm.Deleted = append(rm.Deleted, ix.Digest)
	held, err := indexedImages(tx)
	if err != nil {
		return err
	}
	var gone []*metadata.Image
	for _, id := range ix.Images() {
		im, err := getImage(tx, id)
		if err != nil || held[id] || len(allNames[id]) > 0 || len(im.RepoDigests) > 0 {
			continue // gone already, or kept by another name or index
		}
		if c, err := usedBy(tx, id); err != nil || len(c) > 0 {
			if err != nil {
				return err
			}
			continue
		}
		if err := tx.Delete(metadata.BucketImages, id.String()); err != nil {
			return err
		}
		rm.Deleted = append(rm.Deleted, id)
		gone = append(gone, im)
	}
	rest, err := images(tx)
	if err != nil {
		return err
	}
	seen := map[digest.Digest]bool{}
	for _, im := range gone {
		for _, c := range unusedChains(im, rest) {
			if !seen[c] {
				seen[c] = true
				rm.Deleted = append(rm.Deleted, c)
			}
		}
	}
	return nil
}

// entryPlatform names the platform an index has image id for.
func entryPlatform(tx *metadata.Tx, id digest.Digest) string {
	all, _ := indexes(tx)
	for _, ix := range all {
		for _, e := range ix.Entries {
			if e.Image == id {
				return platformOf(e.Platform).String()
			}
		}
	}
	return "?"
}

// indexInUse reports whether a container uses an image of ix.
func (s *Store) indexInUse(ix *metadata.Index) (bool, error) {
	inUse := false
	err := s.Meta.View(func(tx *metadata.Tx) error {
		for _, id := range ix.Images() {
			c, err := usedBy(tx, id)
			if err != nil {
				return err
			}
			inUse = inUse || len(c) > 0
		}
		return nil
	})
	return inUse, err
}

package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
)

// Removal is what an rmi or prune did, in docker's words.
type Removal struct {
	Untagged []string        // familiar names
	Deleted  []digest.Digest // the image ID, then the layer chain IDs no image uses any more
	Image    digest.Digest   // the image whose names went (for its untag events)
}

// usedBy returns the keys of the container records that keep image id
// alive.
func usedBy(tx *metadata.Tx, id digest.Digest) ([]string, error) {
	var users []string
	err := tx.ForEach(metadata.BucketContainers, func(key string, raw []byte) error {
		var r metadata.Roots
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("metadata container %s is damaged: %w", key, err)
		}
		if slices.Contains(r.Images, id) {
			users = append(users, key)
		}
		return nil
	})
	return users, err
}

// RemoveOptions refine RemoveWith.
type RemoveOptions struct {
	Force bool
	// Running reports whether a container (by ID) runs: an image a
	// running container uses is not deleted by ID, even with Force, as
	// docker refuses it. Nil: no container runs. It is called outside
	// the store's transactions, and may read the store.
	Running func(id string) bool
}

func short(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

// Remove removes a name, or an image, as `docker rmi` does: removing a name
// deletes the image only when it was the last; removing by ID deletes the
// image with all its names, refusing (unless force) an image named in
// several repositories. An image a container uses is only untagged.
func (s *Store) Remove(ref string, force bool) (Removal, error) {
	return s.RemoveWith(ref, RemoveOptions{Force: force})
}

// RemoveWith is Remove with options.
func (s *Store) RemoveWith(ref string, o RemoveOptions) (Removal, error) {
	force := o.Force
	// Which containers of the image run is asked before the write
	// transaction: the answer reads the store too (a container manager
	// records a dead monitor's exit), which would wait on it forever.
	runs := map[string]bool{}
	if o.Running != nil {
		var users []string
		if err := s.Meta.View(func(tx *metadata.Tx) error {
			im, err := resolve(tx, ref)
			if err != nil {
				return nil // said by the removal itself
			}
			users, err = usedBy(tx, im.ID)
			return err
		}); err != nil {
			return Removal{}, err
		}
		for _, u := range users {
			runs[u] = o.Running(u)
		}
	}
	var rm Removal
	err := s.Meta.Update(func(tx *metadata.Tx) error {
		if ix, err := resolveIndex(tx, ref); err == nil {
			var id digest.Digest
			byName := tx.Get(metadata.BucketNames, normalName(ref), &id) == nil && id == ix.Digest
			return removeIndex(tx, ix, ref, !byName, force, &rm)
		} else if !errdefs.IsNotFound(err) {
			return err
		}
		im, err := resolve(tx, ref)
		if err != nil {
			return err
		}
		allNames, err := names(tx)
		if err != nil {
			return err
		}
		mine := allNames[im.ID]
		byName := ""
		if r, err := image.ParseReference(ref); err == nil && !r.IsDigest() {
			for _, n := range mine {
				if n == r.String() {
					byName = n
				}
			}
		}
		if held, err := indexedImages(tx); err != nil {
			return err
		} else if held[im.ID] && byName == "" {
			return errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s - image is the %s entry of a multi-platform image: remove that instead", short(im.ID), entryPlatform(tx, im.ID)))
		}
		users, err := usedBy(tx, im.ID)
		if err != nil {
			return err
		}
		container, running := "", ""
		if len(users) > 0 {
			container = users[0]
		}
		if i := slices.IndexFunc(users, func(u string) bool { return runs[u] }); i >= 0 {
			running = users[i]
		}
		var untag []string
		if byName != "" {
			untag = []string{byName}
			remaining := len(mine) - 1
			if remaining > 0 {
				// The last tag of its repository takes that repository's
				// digest references with it, as in docker.
				repo, lastOfRepo := repoOf(byName), true
				for _, n := range mine {
					if n != byName && repoOf(n) == repo {
						lastOfRepo = false
					}
				}
				var keep, dropped []string
				for _, rd := range im.RepoDigests {
					if lastOfRepo && repoOf(rd) == repo {
						dropped = append(dropped, rd)
					} else {
						keep = append(keep, rd)
					}
				}
				im.RepoDigests = keep
				if err := untagAll(tx, im, untag, &rm); err != nil {
					return err
				}
				for _, rd := range dropped {
					rm.Untagged = append(rm.Untagged, familiar(rd))
				}
				return nil
			}
			// The last name: its repository's digest references go with it.
			if container != "" && !force {
				return errdefs.Conflict(fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, short(digest.Digest("sha256:"+container)), short(im.ID)))
			}
		} else {
			if !singleReference(mine, im.RepoDigests) && !force {
				return errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short(im.ID)))
			}
			if running != "" {
				return errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", short(im.ID), short(digest.Digest("sha256:"+running))))
			}
			if container != "" && !force {
				return errdefs.Conflict(fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", short(im.ID), short(digest.Digest("sha256:"+container))))
			}
			untag = mine
		}
		for _, rd := range im.RepoDigests {
			rm.Untagged = append(rm.Untagged, familiar(rd))
		}
		im.RepoDigests = nil
		if err := untagAll(tx, im, untag, &rm); err != nil {
			return err
		}
		if container != "" {
			// docker keeps an image a container uses, without its names.
			return tx.Put(metadata.BucketImages, im.ID.String(), im)
		}
		if err := tx.Delete(metadata.BucketImages, im.ID.String()); err != nil {
			return err
		}
		rm.Deleted = append(rm.Deleted, im.ID)
		rest, err := images(tx)
		if err != nil {
			return err
		}
		rm.Deleted = append(rm.Deleted, unusedChains(im, rest)...)
		return nil
	})
	return rm, err
}

// normalName is ref's full normalized form ("" if it is no name).
func normalName(ref string) string {
	r, err := image.ParseReference(ref)
	if err != nil || r.IsDigest() {
		return ""
	}
	return r.String()
}

func untagAll(tx *metadata.Tx, im *metadata.Image, refs []string, rm *Removal) error {
	rm.Image = im.ID
	for _, n := range refs {
		if err := tx.Delete(metadata.BucketNames, n); err != nil {
			return err
		}
		rm.Untagged = append(rm.Untagged, familiar(n))
	}
	return tx.Put(metadata.BucketImages, im.ID.String(), im)
}

// unusedChains lists, top first, the chain IDs of im's layers that no image
// in rest uses.
func unusedChains(im *metadata.Image, rest []*metadata.Image) []digest.Digest {
	used := map[digest.Digest]bool{}
	for _, o := range rest {
		for _, c := range image.ChainIDs(o.DiffIDs()) {
			used[c] = true
		}
	}
	chains := image.ChainIDs(im.DiffIDs())
	var out []digest.Digest
	for i := len(chains) - 1; i >= 0; i-- {
		if !used[chains[i]] {
			out = append(out, chains[i])
		}
	}
	return out
}

func familiar(full string) string {
	r, err := image.ParseReference(full)
	if err != nil {
		return full
	}
	return r.Familiar()
}

// singleReference is docker's test of whether an image may be removed by
// ID without -f: at most one tag, and digest references only of that
// tag's repository (or of one repository when there is no tag). Two tags
// of one repository are refused too.
func singleReference(tags, repoDigests []string) bool {
	if len(tags) > 1 {
		return false
	}
	repos := map[string]bool{}
	for _, rd := range repoDigests {
		repos[repoOf(rd)] = true
	}
	for _, t := range tags {
		repos[repoOf(t)] = true
	}
	return len(repos) <= 1
}

func repoOf(full string) string {
	r, err := image.ParseReference(full)
	if err != nil {
		return full
	}
	return r.Repository()
}

// PruneResult is what image prune removed.
type PruneResult struct {
	Removals []Removal
	GC       GCStats
	// Reclaimed is what docker reports as reclaimed: the unpacked size
	// (metadata.Layer.Unpacked) of the layers that no image has any more.
	Reclaimed int64
}

// Prune removes dangling images (no name), or with all every image no
// container uses, then collects garbage.
// PruneOptions say which unused images Prune removes.
type PruneOptions struct {
	// All removes every image no container uses; otherwise only
	// dangling (unnamed) ones go.
	All bool
	// Until keeps the images created at or after it (zero: no bound),
	// as docker's --filter until=.
	Until time.Time
	// Keep, when set, keeps the images it says yes to (docker's --filter
	// label=, label!=).
	Keep func(*metadata.Image) bool
}

// keeps tells whether o's filters keep im whatever its names.
func (o PruneOptions) keeps(im *metadata.Image) bool {
	return !o.Until.IsZero() && !im.Created.Before(o.Until) || o.Keep != nil && o.Keep(im)
}

func (s *Store) Prune(o PruneOptions) (PruneResult, error) {
	var res PruneResult
	imgs, err := s.Images()
	if err != nil {
		return res, err
	}
	before := unpackedLayers(imgs)
	nm, err := s.Names()
	if err != nil {
		return res, err
	}
	held, err := s.IndexedImages()
	if err != nil {
		return res, err
	}
	ixs, err := s.Indexes()
	if err != nil {
		return res, err
	}
	// Multi-platform images first: the entries of one that goes are then
	// dangling images (gone with it unless something else holds them).
	for _, ix := range ixs {
		if len(nm[ix.Digest]) > 0 && !o.All || !o.Until.IsZero() && !ix.Added.Before(o.Until) {
			continue
		}
		if inUse, err := s.indexInUse(ix); err != nil {
			return res, err
		} else if inUse && len(nm[ix.Digest]) > 0 {
			continue // a container runs one of its platforms: the name stays
		}
		rm, err := s.Remove(ix.Digest.String(), true)
		if err != nil {
			return res, err
		}
		res.Removals = append(res.Removals, rm)
		for _, d := range rm.Deleted {
			delete(held, d)
		}
	}
	for _, im := range imgs {
		if held[im.ID] {
			continue
		}
		if _, err := s.Image(im.ID); errdefs.IsNotFound(err) {
			continue // went with its multi-platform image
		}
		if len(nm[im.ID]) > 0 && !o.All || o.keeps(im) {
			continue
		}
		var inUse bool
		if err := s.Meta.View(func(tx *metadata.Tx) error {
			c, err := usedBy(tx, im.ID)
			inUse = len(c) > 0
			return err
		}); err != nil {
			return res, err
		}
		if inUse {
			continue
		}
		rm, err := s.Remove(im.ID.String(), true)
		if err != nil {
			return res, err
		}
		res.Removals = append(res.Removals, rm)
	}
	res.GC, err = s.GC(true)
	if err != nil {
		return res, err
	}
	left, err := s.Images()
	if err != nil {
		return res, err
	}
	after := unpackedLayers(left)
	for d, n := range before {
		if _, ok := after[d]; !ok {
			res.Reclaimed += n
		}
	}
	return res, nil
}

// unpackedLayers is the unpacked size of every layer the images have, by
// diffID.
func unpackedLayers(imgs []*metadata.Image) map[digest.Digest]int64 {
	out := map[digest.Digest]int64{}
	for _, im := range imgs {
		for _, l := range im.Layers {
			out[l.DiffID] = l.Unpacked()
		}
	}
	return out
}

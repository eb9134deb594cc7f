package container

import (
	"encoding/json"
	"errors"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

func init() { store.RegisterGCHook(collectSnapshots) }

// collectSnapshots removes the snapshots nothing uses: layer snapshots
// whose chain ID no image has, flattened snapshots of such chains, and
// active snapshots of no container (an unpack or a create that crashed).
// It runs under the store's exclusive lock, so no unpack is under way.
func collectSnapshots(st *store.Store) error {
	var driver string
	err := st.Meta.View(func(tx *metadata.Tx) error {
		return tx.Get(metadata.BucketSettings, settingDriver, &driver)
	})
	if errdefs.IsNotFound(err) {
		return nil // nothing was ever unpacked
	}
	if err != nil {
		return err
	}
	sn, err := snapshot.Open(st.Root, driver)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	imgs, err := st.Images()
	if err != nil {
		return err
	}
	for _, im := range imgs {
		for _, c := range image.ChainIDs(im.DiffIDs()) {
			live[c.String()] = true
		}
	}
	err = st.Meta.View(func(tx *metadata.Tx) error {
		return tx.ForEach(metadata.BucketContainers, func(_ string, raw []byte) error {
			var r Record
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			live[r.Snapshot], live[r.Parent] = true, true
			return nil
		})
	})
	if err != nil {
		return err
	}
	// A layer kept only as its snapshot needs it, and the snapshots below
	// it, as long as the layer is live (store.GC has already dropped the
	// records of dead ones), even when no image has its chain any more (a
	// build cache record, or another image with the same layer elsewhere).
	sbs, err := st.SnapBlobs()
	if err != nil {
		return err
	}
	for _, sb := range sbs {
		if sb.Driver != driver {
			continue
		}
		chain, err := snapshot.Parents(sn, sb.Snapshot)
		if err != nil {
			continue // gone already: fsck reports the layer
		}
		for _, c := range chain {
			live[c] = true
		}
	}
	var dead []string
	err = sn.Walk(func(in snapshot.Info) error {
		name := in.Name
		if c, ok := snapshot.IsFlat(name); ok {
			name = c
		}
		if !live[name] {
			dead = append(dead, in.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range dead {
		if err := sn.Remove(k); err != nil && !errors.Is(err, snapshot.ErrNotFound) {
			return err
		}
	}
	return snapshot.CleanTemp(sn)
}

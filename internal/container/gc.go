package container

import (
	"encoding/json"
	"errors"

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
	if errors.Is(err, metadata.ErrNotFound) {
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

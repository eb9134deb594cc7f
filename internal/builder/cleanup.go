package builder

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

func init() { store.RegisterGCHook(cleanBuildTemp) }

// cleanBuildTemp removes what killed builds left in ROOT/build/tmp: their
// work directories and the mounts in them (a RUN step's root filesystem
// stays mounted when the process is killed). Garbage collection runs it
// under the store's exclusive lock, so no build is running.
func cleanBuildTemp(st *store.Store) error {
	dir := st.Path(store.BuildTmp)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || len(ents) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	if err := snapshot.UnmountUnder(dir); err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

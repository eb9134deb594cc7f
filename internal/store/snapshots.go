package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/snapshot"
)

// settingDriver is the key of the storage driver in the settings bucket,
// settingDriverWhy that of the reason it was chosen.
const (
	settingDriver    = "storage-driver"
	settingDriverWhy = "storage-driver-why"
)

// StorageDriver says which storage driver the store uses and why, without
// choosing one: a store that never unpacked anything has none yet, and
// then it is the driver the first use would choose, said so.
func (s *Store) StorageDriver() (driver, why string, err error) {
	err = s.Meta.View(func(tx *metadata.Tx) error {
		if err := tx.Get(metadata.BucketSettings, settingDriver, &driver); err != nil {
			return err
		}
		if tx.Get(metadata.BucketSettings, settingDriverWhy, &why) != nil {
			why = "recorded in the store"
		}
		return nil
	})
	if errdefs.IsNotFound(err) {
		driver, why = snapshot.Probe(s.Path(Snapshots))
		return driver, why + "; chosen at the first unpack", nil
	}
	return driver, why, err
}

// Snapshotter opens the store's snapshots, of the one storage driver the
// store uses: the one recorded, else want, else the one snapshot.Probe
// chooses, recorded for every later use. Asking for a driver other than
// the recorded one is an error: the snapshots of the other would be
// invisible. Containers and builds both open their snapshots here.
func (s *Store) Snapshotter(want string) (snapshot.Snapshotter, error) {
	d, err := s.chooseDriver(want)
	if err != nil {
		return nil, err
	}
	return s.openSnapshots(d)
}

// openSnapshots opens the snapshots of driver.
func (s *Store) openSnapshots(driver string) (snapshot.Snapshotter, error) {
	return snapshot.Open(s.Path(Snapshots), driver)
}

// recordedDriver returns the store's storage driver, "" if none was ever
// chosen (nothing was unpacked).
func (s *Store) recordedDriver() (string, error) {
	var rec string
	err := s.Meta.View(func(tx *metadata.Tx) error {
		return tx.Get(metadata.BucketSettings, settingDriver, &rec)
	})
	if errdefs.IsNotFound(err) {
		return "", nil
	}
	return rec, err
}

func (s *Store) chooseDriver(want string) (string, error) {
	if want != "" && !slices.Contains(snapshot.Drivers, want) {
		return "", fmt.Errorf("unknown storage driver %q (want one of %s)", want, strings.Join(snapshot.Drivers, ", "))
	}
	rec, err := s.recordedDriver()
	if err != nil {
		return "", err
	}
	if rec == "" {
		d, why := want, "asked for (--storage-driver) when the store was first used"
		if d == "" {
			d, why = snapshot.Probe(s.Path(Snapshots))
		}
		err = s.Meta.Update(func(tx *metadata.Tx) error {
			// Another process may have chosen first: keep its choice.
			if err := tx.Get(metadata.BucketSettings, settingDriver, &rec); err == nil {
				return nil
			}
			rec = d
			if err := tx.Put(metadata.BucketSettings, settingDriverWhy, why); err != nil {
				return err
			}
			return tx.Put(metadata.BucketSettings, settingDriver, d)
		})
		if err != nil {
			return "", err
		}
	}
	if want != "" && want != rec {
		return "", fmt.Errorf("the store at %s uses the %s storage driver, not %s", s.Root, rec, want)
	}
	return rec, nil
}

// snapshotRoots lists the snapshot keys that garbage collection keeps
// (with their parents): every chain of every image, the snapshot each
// record of the root buckets names (a container's read-write snapshot),
// and the snapshots of the layers kept only as snapshots (called after
// the dead ones lost their records). A running build or unpack needs no
// root: it holds the store's shared lock, so no collection runs.
func snapshotRoots(tx *metadata.Tx, driver string) ([]string, error) {
	var roots []string
	all, err := images(tx)
	if err != nil {
		return nil, err
	}
	for _, im := range all {
		for _, c := range image.ChainIDs(im.DiffIDs()) {
			roots = append(roots, c.String())
		}
	}
	err = forEachRoot(tx, func(r metadata.Roots) error {
		if r.Snapshot != "" {
			roots = append(roots, r.Snapshot)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = forEachSnapBlob(tx, func(_ digest.Digest, sb metadata.SnapBlob) error {
		if sb.Driver == driver {
			roots = append(roots, sb.Snapshot)
		}
		return nil
	})
	return roots, err
}

// collectSnapshots removes the snapshots no root reaches. It runs under
// the exclusive lock.
func (s *Store) collectSnapshots(driver string, roots []string) error {
	if driver == "" {
		return nil // nothing was ever unpacked
	}
	sn, err := s.openSnapshots(driver)
	if err != nil {
		return err
	}
	_, err = snapshot.Collect(sn, roots)
	return err
}

// cleanBuildTemp removes what killed builds left in BuildTmp: their work
// directories and the mounts in them (a RUN step's root filesystem stays
// mounted when the process is killed). It runs under the exclusive lock,
// so no build is running.
func (s *Store) cleanBuildTemp() error {
	dir := s.Path(BuildTmp)
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

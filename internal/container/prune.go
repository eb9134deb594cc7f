package container

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

// RemoveOrphans removes what containers that have no record left behind: a
// directory under containers/ (a remove or create killed half-way) and the
// runtime's state of a process nobody tracks (a foreground run killed with
// SIGKILL leaves runc's state). It holds the store's exclusive lock, so no
// create, whose directory exists before its record, is half-way. It
// returns the IDs it cleaned.
func (m *Manager) RemoveOrphans() ([]string, error) {
	lock, err := m.St.Exclusive()
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	rs, err := m.List()
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, r := range rs {
		known[r.ID] = true
	}
	var removed []string
	ents, err := os.ReadDir(m.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if known[e.Name()] {
			continue
		}
		dir := filepath.Join(m.dir, e.Name())
		if err := snapshot.UnmountUnder(dir); err != nil {
			return removed, err
		}
		if err := os.RemoveAll(dir); err != nil {
			return removed, err
		}
		removed = append(removed, e.Name())
	}
	// The runtime's state: build RUN steps are not running (the lock),
	// so every entry without a record is debris; the runtime kills what
	// is left of its process and forgets it.
	stateDir := m.St.Path(store.RuntimeState)
	ents, err = os.ReadDir(stateDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return removed, err
	}
	rt, rtErr := m.runtime()
	for _, e := range ents {
		if known[e.Name()] || !e.IsDir() {
			continue
		}
		if rtErr == nil {
			rt.Delete(e.Name(), true)
		}
		if err := os.RemoveAll(filepath.Join(stateDir, e.Name())); err != nil {
			return removed, err
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}

// Prune removes the containers that are not running, created before until
// (zero: all of them) and that keep (nil: none) does not keep, and returns their IDs and the bytes their own
// layers held.
func (m *Manager) Prune(until time.Time, keep func(*Record) bool) ([]string, int64, error) {
	rs, err := m.List()
	if err != nil {
		return nil, 0, err
	}
	var ids []string
	var freed int64
	for _, r := range rs {
		if m.State(r.ID).Status == Running || !until.IsZero() && !r.Created.Before(until) || keep != nil && keep(r) {
			continue
		}
		size := m.LayerSize(r)
		if err := m.Remove(r, false); err != nil {
			return ids, freed, err
		}
		ids = append(ids, r.ID)
		freed += size
	}
	return ids, freed, nil
}

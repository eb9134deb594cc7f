package store

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// SpaceUsage is every byte under the store root, by Location, counted as
// `du -sb` counts them (apparent sizes of files and directories, each
// inode once), so that the total is what du says of the root.
type SpaceUsage struct {
	Total int64
	// ByLocation has one entry per Location that has bytes, and "other"
	// for the root's own directories and anything strata did not put
	// there.
	ByLocation []LocationUsage
}

// LocationUsage is the bytes under one Location.
type LocationUsage struct {
	Location Location
	Bytes    int64
}

// Other is the LocationUsage of what is under no Location.
const Other Location = "other"

// FileBytes is the apparent size of the regular files under dir (0 for
// what cannot be read): what removing dir gives back, as prune reports it.
func FileBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// SpaceUsage walks the root. It takes no lock: the figures are a
// snapshot that concurrent writers may change as it walks.
func (s *Store) SpaceUsage() (SpaceUsage, error) {
	locs := append([]Location(nil), Locations...)
	// The longest prefix wins: build/tmp before build.
	sort.Slice(locs, func(i, j int) bool { return len(locs[i]) > len(locs[j]) })
	by := map[Location]int64{}
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(s.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 && !d.IsDir() {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		rel, _ := filepath.Rel(s.Root, p)
		loc := Other
		for _, l := range locs {
			if rel == string(l) || strings.HasPrefix(rel, string(l)+"/") {
				loc = l
				break
			}
		}
		by[loc] += info.Size()
		total += info.Size()
		return nil
	})
	u := SpaceUsage{Total: total}
	for _, l := range append(Locations, Other) {
		if by[l] > 0 {
			u.ByLocation = append(u.ByLocation, LocationUsage{l, by[l]})
		}
	}
	return u, err
}

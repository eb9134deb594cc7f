package snapshot

import (
	"fmt"
	"path/filepath"
)

// VFS keeps every snapshot as a whole copy of its tree: slower and
// larger than overlay, but it works on any filesystem and in containers
// where overlay cannot mount. Its mounts are bind mounts.
type VFS struct {
	*base
}

func (v *VFS) Driver() string { return "vfs" }

func (v *VFS) Prepare(key, parent string) ([]Mount, error) {
	err := v.create(key, parent, KindActive, func(dir string) error {
		if parent == "" {
			return nil
		}
		return copyTree(v.fsDir(parent), filepath.Join(dir, "fs"))
	})
	if err != nil {
		return nil, err
	}
	return v.Mounts(key)
}

// View shares the parent's tree read-only: no copy is needed.
func (v *VFS) View(key, parent string) ([]Mount, error) {
	if parent == "" {
		return nil, fmt.Errorf("a view needs a parent snapshot")
	}
	if err := v.create(key, parent, KindView, nil); err != nil {
		return nil, err
	}
	return v.Mounts(key)
}

func (v *VFS) Mounts(key string) ([]Mount, error) {
	in, err := v.Stat(key)
	if err != nil {
		return nil, err
	}
	switch in.Kind {
	case KindActive:
		return []Mount{{Type: "bind", Source: v.fsDir(key), Options: []string{"rbind", "rw"}}}, nil
	case KindView:
		return []Mount{{Type: "bind", Source: v.fsDir(in.Parent), Options: []string{"rbind", "ro"}}}, nil
	}
	return nil, fmt.Errorf("snapshot %s is committed: it has no mounts", key)
}

func (v *VFS) Commit(name, key string) error { return v.commit(name, key, nil) }

func (v *VFS) Remove(key string) error { return v.remove(key) }

package layer

import "github.com/strata-dev/strata/internal/rootpath"

// resolve returns the root-relative directory that the relative path p
// names when root is taken as "/" (see package rootpath). The result holds
// no symlink, so the calls made on it afterwards through a.root walk real
// directories only; os.Root still guards them against anything changing
// meanwhile.
//
// Missing directories are created (mode 0755, as containerd does) when
// create is set; otherwise a missing component is fs.ErrNotExist. A
// component that is not a directory is syscall.ENOTDIR.
func (a *applier) resolve(p string, create bool) (string, error) {
	o := rootpath.Options{FollowLast: true, Dir: true}
	if create {
		o.Create = func(rel string) error {
			if err := a.root.Mkdir(rel, 0o755); err != nil {
				return err
			}
			a.mark(rel)
			return nil
		}
	}
	return rootpath.Resolve(a.root, p, o)
}

package layer

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/rootless"
)

// OverlayXattrPrefix is where overlayfs keeps its marks (opaque
// directories, redirects) on the upper directories strata mounts:
// trusted.overlay., or user.overlay. in a user namespace (a rootless
// strata), where the snapshots mount overlay with userxattr.
var OverlayXattrPrefix = func() string {
	if rootless.InUserNS() {
		return "user.overlay."
	}
	return "trusted.overlay."
}()

// overlayOpaqueXattr marks an opaque directory in an upper directory.
var overlayOpaqueXattr = OverlayXattrPrefix + "opaque"

// dropXattr tells the extended attributes that are not image content:
// overlayfs bookkeeping (in a layer it would let a tar steer how our
// snapshots are merged) and SELinux labels, which belong to the host's
// policy.
func dropXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") ||
		strings.HasPrefix(name, "user.overlay.") ||
		name == "security.selinux"
}

// listXattrs returns every extended attribute of p (not following a final
// symlink), overlay ones included; none on filesystems without xattrs.
func listXattrs(p string) (map[string]string, error) {
	names, err := xattrNames(p)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	m := make(map[string]string, len(names))
	for _, name := range names {
		v, err := getXattr(p, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		m[name] = v
	}
	return m, nil
}

func xattrNames(p string) ([]string, error) {
	buf := make([]byte, 1024)
	for {
		n, err := unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		return names, nil
	}
}

func getXattr(p, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
}

// contentXattrs is listXattrs without what dropXattr leaves out.
func contentXattrs(p string) (map[string]string, error) {
	m, err := listXattrs(p)
	for k := range m {
		if dropXattr(k) {
			delete(m, k)
		}
	}
	return m, err
}

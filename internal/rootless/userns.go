package rootless

import (
	"os"
	"strings"
)

// InUserNS reports whether this process runs in a user namespace other
// than the host's (a rootless strata's, or any container's with one):
// there overlayfs keeps its marks in user.overlay.* xattrs (the userxattr
// mount option), as trusted.* needs CAP_SYS_ADMIN in the host's namespace.
func InUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	return !isInitialMap(string(b))
}

// isInitialMap tells the uid_map of the initial user namespace: every id
// to itself.
func isInitialMap(m string) bool {
	f := strings.Fields(m)
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}

package sbom

import (
	"bytes"
	"io"
	"path"
	"strings"
)

// cataloger reads the packages of one kind of file.
type cataloger interface {
	// read parses a file of size bytes from r (buf is scratch space it
	// may use); a cataloger of os-release returns the distro instead.
	read(name string, size int64, r io.Reader, buf *bytes.Buffer) ([]Package, *Distro, error)
}

// catalogerFor picks the cataloger of a regular file from its path and
// mode, or nil for a file that holds no packages.
func catalogerFor(name string, mode int64) cataloger {
	dir, base := path.Split(name)
	switch {
	case name == "var/lib/dpkg/status":
		return dpkgCataloger{}
	case dir == "var/lib/dpkg/status.d/" && !strings.HasSuffix(base, ".md5sums"):
		return dpkgCataloger{}
	case name == "lib/apk/db/installed":
		return apkCataloger{}
	case isRPMDB(dir, base):
		return rpmCataloger{}
	case name == "etc/os-release" || name == "usr/lib/os-release":
		return osReleaseCataloger{}
	case base == "METADATA" && strings.HasSuffix(dir, ".dist-info/"),
		base == "PKG-INFO" && strings.HasSuffix(dir, ".egg-info/"),
		strings.HasSuffix(base, ".egg-info") && isSitePackages(dir):
		return pythonCataloger{}
	case base == "package-lock.json" && !strings.Contains(dir, "node_modules/"):
		return npmLockCataloger{}
	case base == "package.json" && isNodeModule(dir):
		return npmPackageCataloger{}
	case mode&0o111 != 0:
		return goCataloger{}
	}
	return nil
}

// isRPMDB reports whether dir/base is an rpm database: in /var/lib/rpm
// or, since rpm 4.16 on some distributions, /usr/lib/sysimage/rpm.
func isRPMDB(dir, base string) bool {
	if dir != "var/lib/rpm/" && dir != "usr/lib/sysimage/rpm/" {
		return false
	}
	return base == "Packages" || base == "Packages.db" || base == "rpmdb.sqlite"
}

// isSitePackages reports whether dir is a Python package directory.
func isSitePackages(dir string) bool {
	return strings.HasSuffix(dir, "/site-packages/") || strings.HasSuffix(dir, "/dist-packages/")
}

// isNodeModule reports whether dir is node_modules/NAME/ or
// node_modules/@SCOPE/NAME/: an installed package's own directory.
func isNodeModule(dir string) bool {
	parts := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	n := len(parts)
	switch {
	case n >= 2 && parts[n-2] == "node_modules":
		return !strings.HasPrefix(parts[n-1], "@") && !strings.HasPrefix(parts[n-1], ".")
	case n >= 3 && parts[n-3] == "node_modules":
		return strings.HasPrefix(parts[n-2], "@")
	}
	return false
}

// paragraphs splits an RFC 822-like database (dpkg status, apk installed)
// into its blank-line separated paragraphs and calls fn with each field;
// continuation lines (a leading space) are not fields and are skipped.
func paragraphs(data []byte, sep string, fn func(key, value string), end func()) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			end()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(sep))
		if !ok {
			continue
		}
		fn(string(k), string(bytes.TrimSpace(v)))
	}
	end()
}

package sbom

import (
	"bytes"
	"debug/buildinfo"
	"io"
	"runtime/debug"
	"strings"
)

// goCataloger reads the build information of a Go executable: the Go
// version (as the module "stdlib", OSV's name for it), the main module and
// every dependency linked in.
type goCataloger struct{}

var elfMagic = []byte("\x7fELF")

func (goCataloger) read(name string, size int64, r io.Reader, buf *bytes.Buffer) ([]Package, *Distro, error) {
	if size < int64(len(elfMagic)) {
		return nil, nil, nil
	}
	head := make([]byte, len(elfMagic))
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, elfMagic) {
		return nil, nil, nil // not an executable this reads; the tar reader skips the rest
	}
	// A big binary goes to a temporary file: debug/buildinfo needs random
	// access, and holding a 1 GiB binary in memory is not worth it.
	sp, err := spool(head, size, r, buf)
	if err != nil {
		return nil, nil, err
	}
	defer sp.Close()
	// Not a Go program, or a damaged one: no packages, and no warning,
	// since most executables are not Go programs.
	bi, err := buildinfo.Read(sp)
	if err != nil {
		return nil, nil, nil
	}
	return goPackages(bi.GoVersion, bi.Main.Path, bi.Main.Version, bi.Deps), nil, nil
}

// goPackages lists a binary's modules. A dependency replaced by another
// module is listed as the replacement; one replaced by a directory (no
// version, "(devel)") keeps the path and version it was required at.
func goPackages(goVersion, mainPath, mainVersion string, deps []*debug.Module) []Package {
	var pkgs []Package
	if v := goStdlibVersion(goVersion); v != "" {
		pkgs = append(pkgs, Package{Name: "stdlib", Version: v, Ecosystem: Go})
	}
	if mainPath != "" {
		pkgs = append(pkgs, Package{Name: mainPath, Version: mainVersion, Ecosystem: Go})
	}
	for _, d := range deps {
		p, v := d.Path, d.Version
		if d.Replace != nil && d.Replace.Version != "" && d.Replace.Version != "(devel)" {
			p, v = d.Replace.Path, d.Replace.Version
		}
		pkgs = append(pkgs, Package{Name: p, Version: v, Ecosystem: Go})
	}
	return pkgs
}

// goStdlibVersion turns "go1.21.3 X:boringcrypto" into "1.21.3".
func goStdlibVersion(v string) string {
	v, _, _ = strings.Cut(v, " ")
	return strings.TrimPrefix(v, "go")
}

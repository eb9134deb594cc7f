package sbom

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/strata-dev/strata/internal/layer"
)

// layerFiles is what one layer's tar says about packages: the files it
// catalogued, every path it wrote (a write hides the lower copy), and what
// its whiteouts delete.
type layerFiles struct {
	// pkgs are the packages of each catalogued file, by path.
	pkgs map[string][]Package
	// written are the paths of every non-directory entry.
	written map[string]struct{}
	// whiteouts are deleted paths; opaques directories whose lower
	// content is hidden.
	whiteouts, opaques []string
	distro             *Distro
	warnings           []string
}

// maxFile caps what is read of one catalogued file: a package database
// bigger than this is not one (METADATA readers stop at the headers).
const maxFile = 256 << 20

// readLayer reads a layer blob (gzip, zstd or plain tar) once.
func readLayer(r io.Reader) (*layerFiles, error) {
	dr, _, err := layer.Decompress(r)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	lf := &layerFiles{pkgs: map[string][]Package{}, written: map[string]struct{}{}}
	tr := tar.NewReader(dr)
	var buf bytes.Buffer
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return lf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("layer tar: %w", err)
		}
		name := cleanName(hdr.Name)
		if name == "" {
			continue
		}
		dir, base := path.Split(name)
		switch {
		case base == ".wh..wh..opq":
			lf.opaques = append(lf.opaques, strings.TrimSuffix(dir, "/"))
			continue
		case strings.HasPrefix(base, ".wh..wh."):
			continue
		case strings.HasPrefix(base, ".wh."):
			lf.whiteouts = append(lf.whiteouts, dir+base[len(".wh."):])
			continue
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		lf.written[name] = struct{}{}
		//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		c := catalogerFor(name, hdr.Mode)
		if c == nil {
			continue
		}
		pkgs, d, err := c.read(name, hdr.Size, tr, &buf)
		if err != nil {
			lf.warnings = append(lf.warnings, fmt.Sprintf("%s: %v", name, err))
			delete(lf.written, name) // keep what a lower layer's copy said
			continue
		}
		if d != nil {
			lf.distro = d
		}
		for i := range pkgs {
			pkgs[i].Path = name
		}
		if len(pkgs) > 0 {
			lf.pkgs[name] = pkgs
		}
	}
}

// cleanName makes a tar name a path without a leading slash: "./a//b/" ->
// "a/b"; "" for the root.
func cleanName(n string) string {
	n = strings.TrimPrefix(path.Clean("/"+layer.TrimName(n)), "/")
	if n == "." {
		return ""
	}
	return n
}

// readCapped reads all of r into buf when it has at most maxFile bytes.
func readCapped(size int64, r io.Reader, buf *bytes.Buffer) ([]byte, error) {
	if size > maxFile {
		return nil, fmt.Errorf("%d bytes, more than the %d read of a package file", size, maxFile)
	}
	buf.Reset()
	buf.Grow(int(size))
	if _, err := io.Copy(buf, r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

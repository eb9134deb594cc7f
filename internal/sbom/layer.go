package sbom

import (
	"archive/tar"
	"bytes"
	"fmt"
	"hash/maphash"
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
	// written holds a hash of the path of every non-directory entry: a
	// 100,000-file layer costs 8 bytes a path, not a copy of each.
	written map[uint64]struct{}
	// whiteouts are deleted paths; opaques directories whose lower
	// content is hidden.
	whiteouts, opaques []string
	distro             *Distro
	warnings           []string
}

// pathSeed hashes paths for layerFiles.written, the same for every layer.
var pathSeed = maphash.MakeSeed()

func (lf *layerFiles) wrote(p string) bool {
	_, ok := lf.written[maphash.String(pathSeed, p)]
	return ok
}

// maxFile caps what is read of one catalogued file: a package database
// bigger than this is not one (METADATA readers stop at the headers).
const maxFile = 256 << 20

// LayerScan gathers the packages of one layer from its tar entries, for
// readers that walk a layer for their own purpose (strata analyze, image
// diff): they hand each entry over, and the content of the files Wants
// asks for, so that the layer is read once for both. Scans of a whole
// image make its SBOM with Assemble.
type LayerScan struct {
	lf  *layerFiles
	buf bytes.Buffer
}

// NewLayerScan starts the scan of one layer.
func NewLayerScan() *LayerScan {
	return &LayerScan{lf: &layerFiles{pkgs: map[string][]Package{}, written: map[uint64]struct{}{}}}
}

// Wants reports whether Entry needs the content of the regular file at
// name (a cleaned path without a leading slash) with permission bits mode.
func (s *LayerScan) Wants(name string, mode int64) bool { return catalogerFor(name, mode) != nil }

// Entry records one tar entry: name is its cleaned path without a leading
// slash (a whiteout's own name, dir/.wh.x), typ its tar type, r the content
// of a regular file Wants asked for (nil for any other entry). Neither
// name nor r is kept.
func (s *LayerScan) Entry(name string, typ byte, mode, size int64, r io.Reader) {
	lf := s.lf
	if name == "" {
		return
	}
	dir, base := path.Split(name)
	switch {
	case base == ".wh..wh..opq":
		lf.opaques = append(lf.opaques, strings.TrimSuffix(dir, "/"))
		return
	case strings.HasPrefix(base, ".wh..wh."):
		return
	case strings.HasPrefix(base, ".wh."):
		lf.whiteouts = append(lf.whiteouts, dir+base[len(".wh."):])
		return
	}
	if typ == tar.TypeDir {
		return
	}
	h := maphash.String(pathSeed, name)
	lf.written[h] = struct{}{}
	//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
	if r == nil || (typ != tar.TypeReg && typ != tar.TypeRegA) {
		return
	}
	c := catalogerFor(name, mode)
	if c == nil {
		return
	}
	name = strings.Clone(name) // the caller's buffer may be reused
	pkgs, d, err := c.read(name, size, r, &s.buf)
	if err != nil {
		lf.warnings = append(lf.warnings, fmt.Sprintf("%s: %v", name, err))
		delete(lf.written, h) // keep what a lower layer's copy said
		return
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

// readLayer reads a layer blob (gzip, zstd or plain tar) once.
func readLayer(r io.Reader) (*layerFiles, error) {
	dr, _, err := layer.Decompress(r)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	s := NewLayerScan()
	tr := tar.NewReader(dr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return s.lf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("layer tar: %w", err)
		}
		name := cleanName(hdr.Name)
		var content io.Reader
		//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
		if (hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA) && s.Wants(name, hdr.Mode) {
			content = tr
		}
		s.Entry(name, hdr.Typeflag, hdr.Mode, hdr.Size, content)
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

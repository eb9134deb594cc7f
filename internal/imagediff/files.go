package imagediff

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/sbom"
)

// file is what a path holds in an image's root filesystem, as far as a
// comparison cares: everything but the modification time (a rebuild gives
// every file a new one, and nobody asks "what changed" to hear that).
type file struct {
	typ      byte
	mode     int64
	uid, gid int
	size     int64
	link     string // symlink target
	sum      [sha256.Size]byte
	dev      [2]int64
	xattrs   string // sorted NAME=VALUE lines
}

// entry is one tar entry of a layer, read once however many images share
// the layer.
type entry struct {
	name string // cleaned, relative to the root ("." is the root)
	file file
	// hardlink is the target of a hard link entry: the link holds what
	// the target holds when the layer is applied.
	hardlink string
}

// layerEntries reads a layer's tar into its entries, hashing file content
// as it goes, and gives scan each entry and the content of the files it
// wants (the package inventory, in the same pass).
func layerEntries(ctx context.Context, src image.Source, d digest.Digest, scan *sbom.LayerScan) ([]entry, error) {
	rc, err := src.OpenBlob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r, _, err := layer.Decompress(rc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []entry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		e := entry{name: cleanName(hdr.Name), file: file{
			typ: hdr.Typeflag, mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid,
			link: hdr.Linkname, dev: [2]int64{hdr.Devmajor, hdr.Devminor}, xattrs: xattrsOf(hdr),
		}}
		scanName := e.name
		if scanName == "." {
			scanName = ""
		}
		if hdr.Typeflag != tar.TypeReg {
			scan.Entry(scanName, hdr.Typeflag, hdr.Mode, hdr.Size, nil)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			e.file.typ = tar.TypeReg
			h := sha256.New()
			content := &countingReader{r: tr}
			if scan.Wants(scanName, hdr.Mode) {
				// What the scan reads is hashed too; the rest after it.
				scan.Entry(scanName, hdr.Typeflag, hdr.Mode, hdr.Size, io.TeeReader(content, h))
			} else {
				scan.Entry(scanName, hdr.Typeflag, hdr.Mode, hdr.Size, nil)
			}
			if _, err := io.Copy(h, content); err != nil {
				return nil, err
			}
			e.file.size = content.n
			copy(e.file.sum[:], h.Sum(nil))
		case tar.TypeLink:
			e.hardlink, e.file.link = cleanName(hdr.Linkname), ""
		}
		out = append(out, e)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func xattrsOf(hdr *tar.Header) string {
	var kv []string
	for k, v := range hdr.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			kv = append(kv, strings.TrimPrefix(k, "SCHILY.xattr.")+"="+v)
		}
	}
	sort.Strings(kv)
	return strings.Join(kv, "\n")
}

// rootfs is the merged view of a stack of layers: path -> what it holds,
// with each directory's children so that deleting a subtree costs its size
// and not the image's.
type rootfs struct {
	files    map[string]file
	children map[string]map[string]bool
}

func newRootfs() *rootfs {
	return &rootfs{files: map[string]file{}, children: map[string]map[string]bool{}}
}

func (fs *rootfs) set(p string, f file) {
	fs.files[p] = f
	for p != "." {
		dir := parentOf(p)
		kids := fs.children[dir]
		if kids == nil {
			kids = map[string]bool{}
			fs.children[dir] = kids
		}
		if kids[p] {
			return // the parents are linked already
		}
		kids[p] = true
		p = dir
	}
}

// remove deletes p and everything below it.
func (fs *rootfs) remove(p string) {
	fs.removeUnder(p)
	delete(fs.files, p)
	if p != "." {
		delete(fs.children[parentOf(p)], p)
	}
}

// removeUnder deletes everything below directory dir (not dir itself).
func (fs *rootfs) removeUnder(dir string) {
	for kid := range fs.children[dir] {
		fs.removeUnder(kid)
		delete(fs.files, kid)
	}
	delete(fs.children, dir)
}

// apply puts one layer's entries on top of fs, as the layer is extracted:
// whiteouts delete what is below, an opaque directory hides what the
// layers below have in it, and a non-directory replaces a directory with
// all it held.
func (fs *rootfs) apply(entries []entry) error {
	// Whiteouts delete only what the layers below have: they go first,
	// then this layer's entries are added.
	for _, e := range entries {
		dir, base := parentOf(e.name), path.Base(e.name)
		switch {
		case base == ".wh..wh..opq":
			fs.removeUnder(dir)
		case strings.HasPrefix(base, ".wh."):
			if base == ".wh." {
				return fmt.Errorf("invalid whiteout %q", e.name)
			}
			fs.remove(path.Join(dir, strings.TrimPrefix(base, ".wh.")))
		}
	}
	for _, e := range entries {
		if strings.HasPrefix(path.Base(e.name), ".wh.") {
			continue
		}
		f := e.file
		if e.hardlink != "" {
			t, ok := fs.files[e.hardlink]
			if !ok {
				return fmt.Errorf("hard link %s: target %s not found", e.name, e.hardlink)
			}
			f = t
		}
		if old, ok := fs.files[e.name]; ok && old.typ == tar.TypeDir && f.typ != tar.TypeDir {
			fs.removeUnder(e.name)
		}
		fs.set(e.name, f)
	}
	return nil
}

// cleanName is a tar entry's path relative to the root, without a leading
// "./" or "/" or a trailing "/"; ".." cannot climb above the root.
func cleanName(name string) string {
	c := strings.TrimPrefix(path.Clean("/"+name), "/")
	if c == "" {
		return "."
	}
	return c
}

func parentOf(name string) string {
	d := path.Dir(name)
	if d == "" || d == "/" {
		return "."
	}
	return d
}

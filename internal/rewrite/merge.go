// Package rewrite makes new layer stacks out of existing ones: squashing a
// range of layers into one. Layers are immutable, so "changing" an image
// means writing a new stack that shares every layer it can.
package rewrite

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// OpenFunc opens one layer as an uncompressed tar stream.
type OpenFunc func() (io.ReadCloser, error)

// Merge writes to w one layer whose content is the merged view of layers
// (bottom first) as seen over below, the paths visible under the range
// (nil: the range starts at the root filesystem, as in a squash of a whole
// image):
//   - a file overwritten in the range is written once, in its last version;
//   - a file added and then deleted inside the range is in no entry;
//   - a whiteout (or an opaque directory) is written only for what the range
//     deletes from below.
//
// It reads each layer twice: once, top layer first, to decide which layer's
// entry wins for each path (a path is hidden by a whiteout, an opaque
// directory or a non-directory in a layer above it); then bottom layer
// first, to write the winners. Writing bottom first keeps the order a layer
// stack is applied in: a directory before what a later layer puts in it,
// and a hard link's target before the link. The output depends only on the
// input bytes.
func Merge(w io.Writer, layers []OpenFunc, below *Tree) error {
	plan, err := planMerge(layers, below)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, wh := range plan.whiteouts {
		hdr := &tar.Header{Name: wh, Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	for i := range layers {
		if err := plan.copyWinners(tw, layers[i], i); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return tw.Close()
}

// Tree is the set of paths a stack of layers leaves visible, with the
// directories that have something in them.
type Tree struct {
	paths   map[string]bool // path -> is a directory
	nonEmpt map[string]bool
}

// Has reports whether p is visible.
func (t *Tree) Has(p string) bool {
	if t == nil {
		return false
	}
	_, ok := t.paths[p]
	return ok
}

// HasChildren reports whether directory p has something in it.
func (t *Tree) HasChildren(p string) bool { return t != nil && t.nonEmpt[p] }

// Len is the number of visible paths.
func (t *Tree) Len() int {
	if t == nil {
		return 0
	}
	return len(t.paths)
}

// Visible reads layers (bottom first) and returns what they leave visible.
func Visible(layers []OpenFunc) (*Tree, error) {
	p, err := planMerge(layers, nil)
	if err != nil {
		return nil, err
	}
	t := &Tree{paths: map[string]bool{}, nonEmpt: map[string]bool{}}
	for name, win := range p.winners {
		t.paths[name] = win.dir
		if name != "." {
			t.nonEmpt[parentOf(name)] = true
		}
	}
	return t, nil
}

// winner is the entry that supplies a path in the merged view: the n-th
// entry of layer layer.
type winner struct {
	layer, n int
	dir      bool
}

type mergePlan struct {
	winners   map[string]winner
	whiteouts []string // entry names, sorted
	below     *Tree
	// What the range deletes: paths whited out (with all below them) and
	// directories made opaque (what is below them).
	deleted, opaque map[string]bool
}

// hidden reports whether the layers above the one being read (in
// planMerge), or the whole range (after it), hide name.
func (p *mergePlan) hidden(name string) bool {
	if p.deleted[name] {
		return true
	}
	for d := name; d != "."; {
		d = parentOf(d)
		if p.deleted[d] || p.opaque[d] {
			return true
		}
		if w, ok := p.winners[d]; ok && !w.dir {
			return true // a layer above made the parent a file
		}
	}
	return false
}

// planMerge reads the layers top first and decides, for every path, the
// entry that wins.
func planMerge(layers []OpenFunc, below *Tree) (*mergePlan, error) {
	p := &mergePlan{winners: map[string]winner{}, below: below, deleted: map[string]bool{}, opaque: map[string]bool{}}
	hidden := p.hidden
	needOpaque := map[string]bool{}
	whiteouts := map[string]bool{}
	for i := len(layers) - 1; i >= 0; i-- {
		// A layer's whiteouts hide only what is below it, never its own
		// entries: they take effect when the layer is done.
		var layerDeleted, layerOpaque []string
		err := forEachEntry(layers[i], func(n int, hdr *tar.Header, name string, _ io.Reader) error {
			dir, base := parentOf(name), path.Base(name)
			switch {
			case base == opaqueMarker:
				if hidden(dir) {
					return nil
				}
				layerOpaque = append(layerOpaque, dir)
				if p.below.HasChildren(dir) {
					needOpaque[dir] = true
				}
				return nil
			case strings.HasPrefix(base, whiteoutPrefix):
				target := path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
				if base == whiteoutPrefix || strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix) {
					return fmt.Errorf("invalid whiteout %q", hdr.Name)
				}
				if hidden(target) {
					return nil
				}
				layerDeleted = append(layerDeleted, target)
				if w, ok := p.winners[target]; ok {
					// Re-created above: the new one replaces what is below; a
					// directory must also hide what below had in it.
					if w.dir && p.below.HasChildren(target) {
						needOpaque[target] = true
					}
					return nil
				}
				if p.below.Has(target) {
					whiteouts[target] = true
				}
				return nil
			}
			if hidden(name) {
				return nil
			}
			if w, ok := p.winners[name]; ok && w.layer != i {
				return nil // a layer above has its own version
			}
			// Within one layer the last entry of a path wins, as when the
			// tar is extracted.
			p.winners[name] = winner{layer: i, n: n, dir: hdr.Typeflag == tar.TypeDir}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		for _, d := range layerDeleted {
			p.deleted[d] = true
		}
		for _, d := range layerOpaque {
			p.opaque[d] = true
		}
	}
	for d := range needOpaque {
		if w, ok := p.winners[d]; ok && w.dir {
			whiteouts[path.Join(d, opaqueMarker)] = true
		}
	}
	for wh := range whiteouts {
		if strings.HasSuffix(wh, opaqueMarker) {
			p.whiteouts = append(p.whiteouts, wh)
		} else {
			p.whiteouts = append(p.whiteouts, path.Join(parentOf(wh), whiteoutPrefix+path.Base(wh)))
		}
	}
	sort.Strings(p.whiteouts)
	return p, nil
}

// errLinkTarget says a hard link cannot be kept as a link in the merged
// layer: its target was replaced or deleted by a layer above the link's,
// so in the stack the link holds content the merged view no longer has.
var errLinkTarget = errors.New("hard link to a file that a later layer replaces or deletes; squash cannot keep it as a link")

// copyWinners writes the entries of layer i that win, with their content.
func (p *mergePlan) copyWinners(tw *tar.Writer, open OpenFunc, i int) error {
	return forEachEntry(open, func(n int, hdr *tar.Header, name string, content io.Reader) error {
		if w, ok := p.winners[name]; !ok || w.layer != i || w.n != n {
			return nil
		}
		if hdr.Typeflag == tar.TypeLink {
			// The target must be what the merged view has at its path, and
			// be written before the link: a winner of this layer or one
			// below it, or a path below the range that the range leaves.
			target := cleanName(hdr.Linkname)
			w, ok := p.winners[target]
			if ok && (w.layer > i || w.layer == i && w.n > n) || !ok && (!p.below.Has(target) || p.hidden(target)) {
				return fmt.Errorf("%s -> %s: %w", hdr.Name, hdr.Linkname, errLinkTarget)
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			_, err := io.Copy(tw, content)
			return err
		}
		return nil
	})
}

// forEachEntry calls fn for every entry of a layer with its index, its
// cleaned name (the root directory "./" is ".") and its content. Names
// cannot climb out: cleanName resolves ".." against the root.
func forEachEntry(open OpenFunc, fn func(n int, hdr *tar.Header, name string, content io.Reader) error) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(n, hdr, cleanName(hdr.Name), tr); err != nil {
			return err
		}
	}
}

// cleanName is a tar entry's path relative to the root, without a leading
// "./" or "/" or a trailing "/".
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

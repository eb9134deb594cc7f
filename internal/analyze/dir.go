package analyze

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// DirEntry is one child of a directory of the tree after the last analysed
// layer (Result.Dir): what a file browser shows one directory at a time.
type DirEntry struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Dir  bool   `json:"dir,omitempty"`
	// Size is a file's size, or what a directory holds (held, if removed).
	Size int64 `json:"size"`
	// Status is what the last analysed layer did to the path.
	Status Status `json:"status"`
}

// treeInfo is a node's weight and whether a tree of a mode shows it.
type treeInfo struct {
	size int64
	show bool
}

// treeInfos gives every node of the final tree its size and relevance,
// bottom-up in one pass: a node's children come after it in the table. A
// directory weighs what it holds; a removed one what it held.
func (r *Result) treeInfos(mode TreeMode) []treeInfo {
	t := r.tree
	infos := make([]treeInfo, t.nodes.n)
	for i := t.nodes.n - 1; i > 0; i-- {
		n := t.node(uint32(i))
		changed := n.has(fChanged)
		if !n.has(fPresent) && !(changed && n.change == Removed) {
			infos[i] = treeInfo{} // not shown, and weighs nothing
			continue
		}
		in := &infos[i] // what its children added
		in.show = in.show || mode == TreeImage || changed
		if !n.isDir() || n.typ == 0 {
			in.size += t.size(uint32(i))
		}
		p := &infos[n.parent]
		if n.has(fPresent) || !t.node(n.parent).has(fPresent) {
			p.size += in.size
		}
		p.show = p.show || in.show
	}
	return infos
}

// Dir lists the children of one directory ("/" or "/usr/bin") of the tree
// after the last analysed layer (Options.UpTo), sorted by name, as WriteTree
// shows them: with TreeImage every path there, with TreeLayer only those
// the layer changed (and the directories above them). Only a Result that
// kept its tree (every Analyze result) can list.
func (r *Result) Dir(dir string, mode TreeMode) ([]DirEntry, error) {
	if r.tree == nil {
		return nil, fmt.Errorf("no tree to list")
	}
	clean := strings.TrimPrefix(path.Clean("/"+dir), "/")
	t := r.tree
	// The name lookup table is gone once the analysis ends (memory):
	// descend by the child lists instead.
	children := t.children()
	i := uint32(0)
	if clean != "" {
		for _, seg := range strings.Split(clean, "/") {
			found := false
			for _, c := range children.of(i) {
				if string(t.nameOf(t.node(c))) == seg {
					i, found = c, true
					break
				}
			}
			if !found {
				i = 0
				break
			}
		}
	}
	if (i == 0) != (clean == "") || i != 0 && !t.node(i).isDir() {
		return nil, fmt.Errorf("%s: no such directory in layer %d", "/"+clean, r.upTo)
	}
	infos := r.treeInfos(mode)
	var kids []uint32
	for _, c := range children.of(i) {
		if infos[c].show {
			kids = append(kids, c)
		}
	}
	slices.SortFunc(kids, t.compareNames)
	out := make([]DirEntry, 0, len(kids))
	for _, c := range kids {
		n := t.node(c)
		st := Unchanged
		if n.has(fChanged) {
			st = n.change
		}
		name := string(t.nameOf(n))
		out = append(out, DirEntry{Name: name, Path: path.Join("/", clean, name), Dir: n.isDir(), Size: infos[c].size, Status: st})
	}
	return out, nil
}

// UpTo is the last layer the analysis read: the layer whose tree Dir lists.
func (r *Result) UpTo() int { return r.upTo }

// UnmarshalText reads a status word back (a client of the JSON reports).
func (s *Status) UnmarshalText(b []byte) error {
	for st := Unchanged; st <= Removed; st++ {
		if st.String() == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("unknown status %q", b)
}

package analyze

import (
	"path"
	"sort"
	"strings"
)

// effRec is dive's efficiency data of a path with several versions: their
// least size, their total and their number.
type effRec struct {
	min, cum, n int64
}

// effAdd adds a version of size bytes to dive's data of path i.
func (a *analyzer) effAdd(i uint32, n *node, size int64) {
	switch n.flags & effMask {
	case effSide:
		r := a.effs[i]
		a.effs[i] = effRec{min: min(r.min, size), cum: r.cum + size, n: r.n + 1}
		return
	case effOne:
		v := a.t.dSize(i)
		a.effs[i] = effRec{min: min(v, size), cum: v + size, n: 2}
	default:
		if size == a.t.dSize(i) {
			n.flags = n.flags&^effMask | effOne
			return
		}
		a.effs[i] = effRec{min: size, cum: size, n: 1}
	}
	n.flags |= effSide
}

// effKeep moves path i's dive data to the side map when its one version's
// size, read from the path's dive size, is about to be lost: that size
// was old and is no longer.
func (a *analyzer) effKeep(i uint32, n *node, old int64) {
	if n.flags&effMask == effOne && a.t.dSize(i) != old {
		a.effs[i] = effRec{min: old, cum: old, n: 1}
		n.flags |= effSide
	}
}

// eff returns dive's data of path i: the least size of its versions (-1:
// none), their total and their number.
func (a *analyzer) eff(i uint32, n *node) (least, cum, count int64) {
	switch n.flags & effMask {
	case effSide:
		r := a.effs[i]
		return r.min, r.cum, r.n
	case effOne:
		d := a.t.dSize(i)
		return d, d, 1
	}
	return -1, 0, 0
}

// efficiency adds the layer's leaves to dive's per-path data: its
// whiteouts, and the nodes of its tree with no child there (a file entry
// with the size of its version, an implied directory with 0). dive visits
// them depth first, names sorted, and stops at a whiteout of a path it does
// not know; only then does the order matter.
func (a *analyzer) efficiency() {
	missing := false
	for j := range a.entries.n {
		missing = missing || a.entries.at(j).missing
	}
	if !missing {
		for j := range a.entries.n {
			if e := a.entries.at(j); e.kind == KindWhiteout {
				a.effAdd(e.n, a.t.node(e.n), int64(e.hash))
			}
		}
		a.eachTouched(func(i uint32, n *node) {
			switch {
			case n.has(fChild):
			case n.has(fExplicit):
				a.effAdd(i, n, a.t.dSize(i))
			default:
				a.effAdd(i, n, 0)
			}
		})
		return
	}
	// The names are built only here, when dive stops early.
	type leaf struct {
		name    string
		n       uint32
		size    int64
		missing bool
	}
	var vis []leaf
	for j := range a.entries.n {
		if e := a.entries.at(j); e.kind == KindWhiteout {
			dir, base := path.Split(strings.TrimPrefix(a.t.path(e.n), "/"))
			vis = append(vis, leaf{name: dir + whiteoutPrefix + base, n: e.n, size: int64(e.hash), missing: e.missing})
		}
	}
	a.eachTouched(func(i uint32, n *node) {
		if n.has(fChild) {
			return
		}
		l := leaf{name: strings.TrimPrefix(a.t.path(i), "/"), n: i}
		if n.has(fExplicit) {
			l.size = a.t.dSize(i)
		}
		vis = append(vis, l)
	})
	sort.Slice(vis, func(i, j int) bool { return cmpPath(vis[i].name, vis[j].name) < 0 })
	for _, l := range vis {
		n := a.t.node(l.n)
		if l.missing {
			if n.flags&effMask == effNone {
				n.flags |= effSeen
			}
			return
		}
		a.effAdd(l.n, n, l.size)
	}
}

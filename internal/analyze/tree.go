package analyze

import (
	"archive/tar"
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"unsafe"
)

// The per-path state is the whole per-file memory of an analysis: a
// 100,000-file image is about 100,000 nodes. So a node is 28 bytes with no
// pointer in it (the collector never scans the table), nodes live in one
// table of fixed chunks addressed by uint32 (no per-node allocation, no copy
// when the table grows), names are packed in an arena, one open-addressing
// table finds a directory's child by name instead of a map per directory,
// and child lists are built only when a layer's whiteouts need them. All
// told, about 35 bytes a path while layers are read (node, lookup slot,
// name), 28 once done; see TestAnalyzeMemory.

// node is the state of one path across the layers read so far.
type node struct {
	// The union filesystem as it really is (opaque directories honoured):
	// the present version's content hash (halves of node.hash, so that a
	// node aligns on 4 bytes: 28, not 32; valid with fHashed, else a lazy
	// big file whose content starts at analyzer.offs), size (see
	// tree.size), type and layer. A removed path keeps the values of its
	// last version.
	hashLo, hashHi uint32
	size           uint32

	// The parent's index (the root is node 0, its own parent). A child's
	// index is always above its parent's. Child lists are not kept: they
	// are rebuilt when needed (tree.children), which is rare.
	parent uint32

	// The name is nameLen bytes at offset name of the arena (tree.names).
	name uint32

	nameLen uint16
	layer   uint16 // layer that wrote the present version
	flags   uint16
	typ     byte
	change  Status // what the last layer read did to the path (with fChanged)
}

func (n *node) hash() uint64     { return uint64(n.hashHi)<<32 | uint64(n.hashLo) }
func (n *node) setHash(h uint64) { n.hashLo, n.hashHi = uint32(h), uint32(h>>32) }

// bigSize in node.size: the size is in tree.big.
const bigSize = math.MaxUint32

// Node flags.
const (
	fPresent uint16 = 1 << iota // in the real union filesystem
	fHashed                     // hash is the present version's content hash
	// dive's stacked tree, which differs from the real one: dive ignores
	// opaque markers, and a directory implied by a deeper path (no entry of
	// its own) is a zero-size non-directory there. dive's size of a path is
	// either 0 (fDZero) or the size of the version last added.
	fDPresent
	fDIsDir
	fDZero
	// dive's per-path efficiency data, two bits: see effNone.
	fEffA
	fEffB
	fDupRef  // the present version's content is an arrival (see analyzer.arrive) by reference
	fChanged // changed by the last layer read; change says how

	// Marks of the layer being read, cleared at its end, to know the
	// layer's own tree without building it: seen (in the layer's tree,
	// maybe only as a parent), child (has a child there), explicit (has
	// its own entry).
	fSeen
	fChild
	fExplicit
	fRemoved // removed by the layer being read, perhaps re-added by it
	// fFresh: added by the layer being read to a path absent below it,
	// during the walk; the layer's removals skip it.
	fFresh
)

// The state of dive's efficiency data of a path (node.flags&effMask):
// effNone: dive has no entry for it. effSeen: an entry with no version,
// made by a whiteout of a path dive lacks (its least size is -1). effOne:
// one version, of the size that is still the path's dive size (tree.dSize;
// when that changes, the path goes to effSide, see analyzer.effKeep).
// effSide: the data is in analyzer.effs (several versions, or one of
// another size, such as a whiteout's).
const (
	effMask = fEffA | fEffB
	effNone = 0
	effSeen = fEffA
	effOne  = fEffB
	effSide = fEffA | fEffB
)

// layerMarks are the flags that last one layer.
const layerMarks = fSeen | fChild | fExplicit | fRemoved | fFresh

func (n *node) has(f uint16) bool { return n.flags&f != 0 }
func (n *node) isDir() bool       { return n.typ == tar.TypeDir }

// size is the size of node i's present (or last) version.
func (t *tree) size(i uint32) int64 {
	if s := t.node(i).size; s != bigSize {
		return int64(s)
	}
	return t.big[i]
}

func (t *tree) setSize(i uint32, s int64) {
	n := t.node(i)
	if s >= 0 && s < bigSize {
		n.size = uint32(s)
		return
	}
	if t.big == nil {
		t.big = map[uint32]int64{}
	}
	n.size, t.big[i] = bigSize, s
}

// dSize is dive's size of path i.
func (t *tree) dSize(i uint32) int64 {
	if t.node(i).has(fDZero) {
		return 0
	}
	return t.size(i)
}

const (
	nameChunkShift = 16 // names are packed in 64 KiB chunks; a name never spans two
	maxNodes       = 1 << 31
)

// tree is the node table, the name arena and the child lookup.
type tree struct {
	nodes chunks[node]
	names [][]byte
	big   map[uint32]int64 // sizes of 4 GiB and more

	// Child lookup: open addressing, linear probing. Slot s holds a node in
	// slots[s] and 8 bits of the hash of its parent and name in tags[s]
	// (never 0; 0 marks an empty slot), so that a probe rarely reads a node.
	// Dropped once the analysis is done.
	slots []uint32
	tags  []uint8
	seed  maphash.Seed

	// Names repeat (f0..f99 in every directory, index.js, __init__.py): a
	// new name equal to that of the node in its slot here (by the name's
	// hash; 0: none) shares its bytes. A cache, not an index: a name seen
	// long ago is stored again, at no cost to images of unique names.
	recent [1 << 12]uint32
}

func newTree(seed maphash.Seed) *tree {
	t := &tree{seed: seed, slots: make([]uint32, 1024), tags: make([]uint8, 1024)}
	t.nodes.add(node{typ: tar.TypeDir, flags: fPresent | fDPresent | fDIsDir}) // the root
	return t
}

func (t *tree) node(i uint32) *node { return t.nodes.at(int(i)) }

func (t *tree) nameOf(n *node) []byte {
	c := t.names[n.name>>nameChunkShift]
	o := n.name & (1<<nameChunkShift - 1)
	return c[o : o+uint32(n.nameLen)]
}

// hash is the lookup's hash of a child of parent named name, whose own
// hash is hn.
func hash(parent uint32, hn uint64) uint64 {
	h := hn ^ uint64(parent)*0x9e3779b97f4a7c15
	h ^= h >> 32
	h *= 0xd6e8feb86659fd93
	return h ^ h>>32
}

func tagOf(h uint64) uint8 { return max(uint8(h>>56), 1) }

// lookup finds (creating) the node of a cleaned path; "" is the root.
func (t *tree) lookup(p string) (uint32, error) {
	i, _, err := t.walk(p, true)
	return i, err
}

// find finds the node of a cleaned path without creating it.
func (t *tree) find(p string) (uint32, bool) {
	i, ok, _ := t.walk(p, false)
	return i, ok
}

func (t *tree) walk(p string, create bool) (uint32, bool, error) {
	i := uint32(0)
	for p != "" {
		var seg string
		if j := strings.IndexByte(p, '/'); j >= 0 {
			seg, p = p[:j], p[j+1:]
		} else {
			seg, p = p, ""
		}
		var ok bool
		var err error
		if i, ok, err = t.child(i, seg, create); err != nil || !ok {
			return 0, false, err
		}
	}
	return i, true, nil
}

// child finds (creating, if create) the child of parent named name.
func (t *tree) child(parent uint32, name string, create bool) (uint32, bool, error) {
	hn := maphash.String(t.seed, name)
	h := hash(parent, hn)
	tag := tagOf(h)
	mask := uint64(len(t.tags) - 1)
	for s := h & mask; ; s = (s + 1) & mask {
		switch t.tags[s] {
		case 0:
			if !create {
				return 0, false, nil
			}
			i, err := t.add(parent, name, hn, h, s)
			return i, err == nil, err
		case tag:
			c := t.slots[s]
			if n := t.node(c); n.parent == parent && string(t.nameOf(n)) == name {
				return c, true, nil
			}
		}
	}
}

// add makes a new child of parent, which the lookup would put in slot s.
func (t *tree) add(parent uint32, name string, hn, h, s uint64) (uint32, error) {
	if len(name) > 1<<nameChunkShift-1 {
		return 0, fmt.Errorf("a path element of %d bytes (the analysis takes at most %d)", len(name), 1<<nameChunkShift-1)
	}
	if t.nodes.n >= maxNodes {
		return 0, fmt.Errorf("more than %d paths", maxNodes)
	}
	i := uint32(t.nodes.n)
	r := &t.recent[hn&(uint64(len(t.recent))-1)]
	var off uint32
	if m := t.node(*r); *r != 0 && string(t.nameOf(m)) == name {
		off = m.name // the same bytes
	} else {
		last := len(t.names) - 1
		if last < 0 || len(t.names[last])+len(name) > 1<<nameChunkShift {
			if len(t.names) == 1<<(32-nameChunkShift) {
				return 0, fmt.Errorf("more than %d bytes of path names", uint64(1)<<32)
			}
			t.names = append(t.names, make([]byte, 0, 1<<nameChunkShift))
			last++
		}
		off = uint32(last)<<nameChunkShift | uint32(len(t.names[last]))
		t.names[last] = append(t.names[last], name...)
	}
	*r = i
	t.nodes.add(node{parent: parent, name: off, nameLen: uint16(len(name))})
	if (t.nodes.n-1)*16 > len(t.tags)*13 {
		t.grow()
		t.put(i, h)
	} else {
		t.tags[s], t.slots[s] = tagOf(h), i
	}
	return i, nil
}

// put places node i, of hash h, in the first free slot of its probe.
func (t *tree) put(i uint32, h uint64) {
	mask := uint64(len(t.tags) - 1)
	s := h & mask
	for t.tags[s] != 0 {
		s = (s + 1) & mask
	}
	t.tags[s], t.slots[s] = tagOf(h), i
}

// grow doubles the lookup table (load at most 13/16).
func (t *tree) grow() {
	slots, tags := t.slots, t.tags
	t.slots, t.tags = make([]uint32, 2*len(slots)), make([]uint8, 2*len(tags))
	for s, tag := range tags {
		if tag != 0 {
			n := t.node(slots[s])
			t.put(slots[s], hash(n.parent, maphash.Bytes(t.seed, t.nameOf(n))))
		}
	}
}

// path is the node's path, "/a/b"; "" for the root.
func (t *tree) path(i uint32) string {
	l := 0
	for j := i; j != 0; j = t.node(j).parent {
		l += 1 + int(t.node(j).nameLen)
	}
	b := make([]byte, l)
	for j := i; j != 0; j = t.node(j).parent {
		n := t.node(j)
		l -= int(n.nameLen)
		copy(b[l:], t.nameOf(n))
		l--
		b[l] = '/'
	}
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}

// children indexes the child lists of the tree as it is: the children of
// node i are of(i), in index order.
type children struct {
	start, kids []uint32
}

func (c children) of(i uint32) []uint32 {
	if c.start == nil {
		return nil
	}
	return c.kids[c.start[i]:c.start[i+1]]
}

// children builds the child lists (8 bytes a node, for the time of one
// layer's whiteouts or one tree print): a counting sort of the nodes by
// parent.
func (t *tree) children() children {
	n := uint32(t.nodes.n)
	start := make([]uint32, n+1)
	for i := uint32(1); i < n; i++ {
		start[t.node(i).parent+1]++
	}
	for i := uint32(1); i <= n; i++ {
		start[i] += start[i-1]
	}
	kids := make([]uint32, n-1)
	for i := uint32(1); i < n; i++ {
		p := t.node(i).parent
		kids[start[p]] = i
		start[p]++
	}
	// start[p] is now where p+1's children start.
	copy(start[1:], start[:n])
	start[0] = 0
	return children{start, kids}
}

// compareNames orders two nodes by name, bytewise.
func (t *tree) compareNames(x, y uint32) int {
	return bytes.Compare(t.nameOf(t.node(x)), t.nameOf(t.node(y)))
}

// chunks is an append-only list stored in fixed chunks: no copy when it
// grows, no doubled array at its peak, and pointers to its elements stay
// valid. reset keeps the chunks.
type chunks[T any] struct {
	c [][]T
	n int
}

const chunkShift = 12

func (l *chunks[T]) add(v T) {
	c := l.n >> chunkShift
	if c == len(l.c) {
		l.c = append(l.c, make([]T, 1<<chunkShift))
	}
	l.c[c][l.n&(1<<chunkShift-1)] = v
	l.n++
}

func (l *chunks[T]) at(i int) *T { return &l.c[i>>chunkShift][i&(1<<chunkShift-1)] }

func (l *chunks[T]) reset() { l.n = 0 }

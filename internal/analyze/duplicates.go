package analyze

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"io"
	"math/bits"
	"slices"
)

// content registers the content of node i's present version, file e, for
// duplicate detection. A lazy file is hashed only once another big file
// has its size; until then its size alone proves it unique.
func (a *analyzer) content(i uint32, k uint16, e *entry) {
	n := a.t.node(i)
	size := e.size
	if size >= lazyMin {
		if refs := a.lazy[size]; len(refs) > 0 {
			delete(a.lazy, size)
			for _, r := range refs {
				h := a.hashAt(r.layer, r.off, size)
				if rn := a.t.node(r.n); rn.layer == r.layer && !rn.has(fHashed) {
					rn.setHash(h)
					rn.flags |= fHashed
					delete(a.offs, r.n)
				}
				a.arrive(uint32(a.recs.n) | recBit)
				a.recs.add(dupRec{hash: h, size: size, n: r.n, layer: r.layer})
			}
			a.hashedSizes[size] = true
		}
		if e.lazy {
			if !a.hashedSizes[size] {
				a.lazy[size] = append(a.lazy[size], dupCopy{n: i, layer: k, off: int64(e.hash)})
				return
			}
			e.hash, e.lazy = a.hashAt(k, int64(e.hash), size), false
			n.setHash(e.hash)
			n.flags |= fHashed
			delete(a.offs, i)
		}
		a.hashedSizes[size] = true
	}
	// By reference: the node has the hash, size and layer.
	n.flags |= fDupRef
	a.arrive(i)
}

// arrivalRun is n arrivals, from number pos on: nodes v, v+1, ... (their
// present versions' contents), or records v&^recBit, v&^recBit+1, ...
// The files of a layer that adds a tree are mostly consecutive nodes.
type arrivalRun struct {
	pos, v, n uint32
}

// recBit marks a record (an index in analyzer.recs) in an arrival.
const recBit = 1 << 31

// arrive registers content v (a node or recBit|a record) as the next
// arrival.
func (a *analyzer) arrive(v uint32) {
	if a.runs.n > 0 {
		if r := a.runs.at(a.runs.n - 1); r.v+r.n == v && r.v&recBit == v&recBit {
			r.n++
			a.arrivals++
			return
		}
	}
	a.runs.add(arrivalRun{pos: a.arrivals, v: v, n: 1})
	a.arrivals++
}

// retire keeps the registered content of node i's present version, which
// is being replaced or removed, in a record. Its arrival still names the
// node: finish matches them (resolveArrivals).
func (a *analyzer) retire(i uint32, n *node) {
	if !n.has(fDupRef) {
		return
	}
	n.flags &^= fDupRef
	a.recs.add(dupRec{hash: n.hash(), size: a.t.size(i), n: i, layer: n.layer, retired: true})
	a.retired++
}

// hashAt hashes size bytes at off in layer k's tar, which is seekable (the
// only kind whose files are lazy). The first failure stops the analysis.
func (a *analyzer) hashAt(k uint16, off, size int64) uint64 {
	if a.err != nil {
		return 0
	}
	r, ok := a.readers[k]
	if !ok {
		var err error
		if r, err = a.layers[k].Open(); err != nil {
			a.err = err
			return 0
		}
		a.readers[k] = r
	}
	ra, ok := r.(io.ReaderAt)
	if !ok {
		a.err = fmt.Errorf("layer %d: cannot read a file's content again", k)
		return 0
	}
	var h maphash.Hash
	h.SetSeed(a.seed)
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	if _, err := io.CopyBuffer(&h, io.NewSectionReader(ra, off, size), *bp); err != nil {
		a.err = fmt.Errorf("layer %d: %w", k, err)
		return 0
	}
	return h.Sum64()
}

// dupRec is one regular file's content, recorded for the duplicate report.
type dupRec struct {
	hash  uint64
	size  int64
	n     uint32
	layer uint16
	// retired: made by retire, to be matched with an arrival; used: matched.
	retired, used bool
}

// resolveArrivals rewrites the arrivals so that each names its content:
// the k-th arrival of node v (in order) is the k-th version of v that
// retire recorded, or its present version once those are used up (a node
// has one present version, and retire runs before the next one arrives).
func (a *analyzer) resolveArrivals() {
	if a.retired == 0 {
		return
	}
	byNode := make([]uint32, 0, a.retired)
	for j := range a.recs.n {
		if a.recs.at(j).retired {
			byNode = append(byNode, uint32(j))
		}
	}
	slices.SortStableFunc(byNode, func(x, y uint32) int { return cmp.Compare(a.recs.at(int(x)).n, a.recs.at(int(y)).n) })
	old := a.runs
	a.runs, a.arrivals = chunks[arrivalRun]{}, 0
	for j := range old.n {
		r := *old.at(j)
		for d := range r.n {
			v := r.v + d
			if v&recBit == 0 {
				// v's first unused record, if any.
				s, _ := slices.BinarySearchFunc(byNode, v, func(x, v uint32) int { return cmp.Compare(a.recs.at(int(x)).n, v) })
				for ; s < len(byNode) && a.recs.at(int(byNode[s])).n == v; s++ {
					if rec := a.recs.at(int(byNode[s])); !rec.used {
						rec.used = true
						v = byNode[s] | recBit
						break
					}
				}
			}
			a.arrive(v)
		}
	}
}

// record is arrival value v (a node or recBit|a record).
func (a *analyzer) record(v uint32) dupRec {
	if v&recBit != 0 {
		return *a.recs.at(int(v &^ recBit))
	}
	n := a.t.node(v)
	return dupRec{hash: n.hash(), size: a.t.size(v), n: v, layer: n.layer}
}

// eachArrival calls f with each arrival's number and value, in order.
func (a *analyzer) eachArrival(f func(p, v uint32)) {
	for j := range a.runs.n {
		r := *a.runs.at(j)
		for d := range r.n {
			f(r.pos+d, r.v+d)
		}
	}
}

type dupGroup struct {
	size   int64
	copies []dupCopy
}

type dupCopy struct {
	off   int64 // of a lazy copy
	n     uint32
	layer uint16
}

// groups returns the contents found more than once, each with its copies
// in order of arrival, the groups in the order their second copy arrived.
// The arrivals are sorted by hash, stably: a counting sort on the hash's
// top bits, then each bucket (a few arrivals) by the whole hash. What is
// sorted is arrival values, each of which arrives once once resolved.
func (a *analyzer) groups() []dupGroup {
	num := a.arrivals
	if num < 2 {
		return nil
	}
	a.resolveArrivals()
	b := min(max(bits.Len32(num)-3, 1), 16)
	shift := 64 - b
	cnt := make([]uint32, 1<<b+1)
	a.eachArrival(func(_, v uint32) { cnt[a.record(v).hash>>shift+1]++ })
	for d := 1; d < len(cnt); d++ {
		cnt[d] += cnt[d-1]
	}
	// The sorted arrivals go in the lookup table's slots when they fit: the
	// table is no longer needed, and this is the analysis's last peak.
	vs := a.t.slots
	a.t.slots, a.t.tags = nil, nil
	if uint32(len(vs)) < num {
		vs = make([]uint32, num)
	}
	vs = vs[:num]
	a.eachArrival(func(_, v uint32) {
		d := a.record(v).hash >> shift
		vs[cnt[d]] = v
		cnt[d]++
	})
	type keyed struct {
		second uint32 // arrival number of the second copy
		g      dupGroup
	}
	var gs []keyed
	seconds := map[uint32]int{} // second copy's arrival value -> its group in gs
	start := 0
	for _, end := range cnt[:len(cnt)-1] {
		bucket := vs[start:end]
		start = int(end)
		if len(bucket) < 2 {
			continue
		}
		slices.SortStableFunc(bucket, func(x, y uint32) int { return cmp.Compare(a.record(x).hash, a.record(y).hash) })
		for i := 0; i < len(bucket); {
			h := a.record(bucket[i]).hash
			j := i + 1
			for j < len(bucket) && a.record(bucket[j]).hash == h {
				j++
			}
			// One hash, in order of arrival; split by size on the off
			// chance that different contents share it.
			for run := bucket[i:j]; len(run) >= 2; {
				size := a.record(run[0]).size
				var g dupGroup
				var second uint32
				var rest []uint32
				for _, v := range run {
					r := a.record(v)
					if r.size != size {
						rest = append(rest, v)
						continue
					}
					if len(g.copies) == 1 {
						second = v
					}
					g.copies = append(g.copies, dupCopy{n: r.n, layer: r.layer})
				}
				if len(g.copies) >= 2 {
					g.size = size
					seconds[second] = len(gs)
					gs = append(gs, keyed{g: g})
				}
				run = rest
			}
			i = j
		}
	}
	if len(gs) > 0 {
		a.eachArrival(func(p, v uint32) {
			if g, ok := seconds[v]; ok {
				gs[g].second = p
			}
		})
	}
	slices.SortFunc(gs, func(x, y keyed) int { return cmp.Compare(x.second, y.second) })
	out := make([]dupGroup, len(gs))
	for i := range gs {
		out[i] = gs[i].g
	}
	return out
}

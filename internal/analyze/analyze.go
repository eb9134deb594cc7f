package analyze

import (
	"archive/tar"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"sort"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/sbom"
)

// entry is a layer's tar entry kept until the layer's end: whiteouts and
// opaque markers apply to the layers below, so a file entry of a path
// present below is applied only after them. A file of a path absent below
// needs no entry: it is applied during the walk (see Analyze).
type entry struct {
	// hash is the content hash of a file; of a lazy one, where its
	// content starts in the tar; of a whiteout, the bytes it removes for
	// dive. One field for three keeps entries at 24 bytes.
	hash    uint64
	size    int64
	n       uint32
	kind    uint8
	typ     byte
	lazy    bool
	missing bool // dive: a whiteout of a path its stacked tree lacks
}

// deferred marks an entry index in analyzer.order (else a node index).
const deferred = 1 << 31

type analyzer struct {
	t      *tree
	seed   maphash.Seed
	opts   Options
	res    *Result
	layers []planLayer
	// scans are the package inventory's scans of the layers read, with
	// Options.Packages: it reads the files it wants as the walk hashes them.
	scans []*sbom.LayerScan

	// Of the layer being read (kept, reset, between layers).
	entries chunks[entry]
	// order lists the layer's file entries to settle at its end, in tar
	// order: entry indices|deferred, or nodes applied during the walk. It
	// stays empty while the layer adds only paths absent below.
	order chunks[uint32]
	// The layer's tree is the nodes marked fSeen: those in touched, in
	// the order seen, and those the layer created (from start on). With
	// KeepChanges, touched lists them all, in order: the order of the
	// directories the layer implies is the order of their changes.
	touched chunks[uint32]
	start   uint32
	pending chunks[uint32] // nodes the layer's whiteouts and opaque markers removed

	effs map[uint32]effRec // dive's data of the paths in state effSide

	// Every regular file's content, in order of arrival (see arrive),
	// for the duplicate report: runs of arrivals, and records of contents
	// that are no longer a node's present version.
	runs     chunks[arrivalRun]
	arrivals uint32
	recs     chunks[dupRec]
	retired  int // records in recs made by retire

	// Big files of seekable layers are hashed only when another file has
	// their size: lazy holds those not hashed yet, by size; hashedSizes the
	// sizes of big files hashed already; offs where a lazy present version
	// starts in its layer's tar.
	lazy        map[int64][]dupCopy
	offs        map[uint32]int64
	hashedSizes map[int64]bool
	readers     map[uint16]io.ReadCloser
	err         error // of a lazy read
}

// lazyMin is the size from which a file of a seekable layer is skipped
// rather than hashed while streaming.
const lazyMin = 1 << 20

// maxLayers: layer numbers are uint16 in the per-path state.
const maxLayers = math.MaxUint16

// analyzePlan reads every layer of im once, in order, and returns the
// analysis.
//
// Per layer: the walk applies at once each file of a path absent below
// (nothing of the layer can remove it: whiteouts and opaque markers apply
// to the layers below) and keeps an entry for anything else; at the layer's
// end its whiteouts and opaque markers remove what they hide, the kept files
// are applied, the directories the layer implies are added, and dive's
// per-path efficiency data is updated.
func analyzePlan(im *plan, opts Options) (*Result, error) {
	if len(im.Layers) > maxLayers {
		return nil, fmt.Errorf("the image has %d layers: the analysis takes at most %d", len(im.Layers), maxLayers)
	}
	a := &analyzer{
		seed: maphash.MakeSeed(),
		opts: opts,
		res:  &Result{Image: im.Name, upTo: len(im.Layers) - 1},
		effs: map[uint32]effRec{}, lazy: map[int64][]dupCopy{}, offs: map[uint32]int64{}, hashedSizes: map[int64]bool{}, readers: map[uint16]io.ReadCloser{},
		layers: im.Layers,
	}
	a.t = newTree(a.seed)
	defer func() {
		for _, r := range a.readers {
			r.Close()
		}
	}()
	instr := image.LayerInstructions(im.History, len(im.Layers))
	for i, l := range im.Layers {
		if opts.UpTo >= 0 && i > opts.UpTo {
			break
		}
		if a.err != nil {
			break
		}
		a.res.upTo = i
		a.res.Layers = append(a.res.Layers, LayerResult{
			Index: i, Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, BlobSize: l.Size, Instruction: instr[i],
		})
		if err := a.layer(uint16(i), l); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
		}
	}
	if a.err != nil {
		return nil, a.err
	}
	a.finish()
	if opts.Packages {
		digests := make([]string, len(a.scans))
		for i := range a.scans {
			digests[i] = im.Layers[i].Digest.String()
		}
		inv := sbom.Assemble(a.scans, digests)
		for i := range a.res.Layers {
			n := inv.Layers[i].Packages
			a.res.Layers[i].Packages = &n
		}
	}
	return a.res, nil
}

// packageTap hands the package inventory the entries of a layer, and the
// content of the files it wants as the walk reads them.
type packageTap struct {
	scan   *sbom.LayerScan
	tapped bool // the entry being walked was given with its content
}

func (t *packageTap) Wants(e *Entry) bool { return t.scan.Wants(e.Name, e.Mode) }

func (t *packageTap) Read(e *Entry, r io.Reader) {
	t.scan.Entry(e.Name, e.Type, e.Mode, e.Size, r)
	t.tapped = true
}

// entry gives e to the scan unless Read did.
func (t *packageTap) entry(e *Entry) {
	if !t.tapped {
		t.scan.Entry(e.Name, e.Type, e.Mode, e.Size, nil)
	}
	t.tapped = false
}

func (a *analyzer) layer(k uint16, l planLayer) error {
	rc, err := l.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	// The previous layer's changes are no longer the last ones.
	t := a.t
	for _, l := range []*chunks[uint32]{&a.touched, &a.pending} {
		for j := range l.n {
			t.node(*l.at(j)).flags &^= fChanged
		}
		l.reset()
	}
	for i := a.start; i < uint32(t.nodes.n); i++ {
		t.node(i).flags &^= fChanged
	}
	a.start = uint32(t.nodes.n)
	a.entries.reset()
	a.order.reset()
	lr := &a.res.Layers[k]
	// The entry rules of the store, with this layer's files known from
	// the tree: a file this layer wrote is marked explicit.
	check := layer.NewEntryCheckerWith(func(target string) bool {
		i, ok := t.find(target)
		return ok && t.node(i).has(fExplicit) && t.node(i).typ != tar.TypeDir
	})
	var tap Tap
	pt := &packageTap{}
	if a.opts.Packages {
		pt.scan = sbom.NewLayerScan()
		a.scans = append(a.scans, pt.scan)
		tap = pt
	}
	n, err := WalkTap(rc, a.seed, lazyMin, tap, func(e *Entry) error {
		if pt.scan != nil {
			pt.entry(e)
		}
		lr.Size += e.Size
		lr.Entries++
		if lr.Problem == "" {
			if err := check.CheckEntry(e.RawName, e.Type, e.Linkname); err != nil {
				lr.Problem = err.Error()
				a.res.Problems = append(a.res.Problems, fmt.Sprintf("layer %d (%s): %v", k, lr.Digest, err))
			}
		}
		i, err := t.lookup(e.Target)
		if err != nil {
			return err
		}
		nd := t.node(i)
		switch e.Kind {
		case KindFile:
			a.mark(nd.parent)
			a.see(i, nd)
			nd.flags |= fExplicit
			en := entry{n: i, kind: KindFile, typ: e.Type, size: e.Size, hash: e.Hash}
			if e.Lazy {
				en.hash, en.lazy = uint64(e.Offset), true
			}
			if !nd.has(fPresent | fDPresent) {
				nd.flags |= fFresh
				a.apply(&en, k)
				if a.order.n == 0 {
					a.settle(&en, k, Added, false)
				} else {
					a.order.add(i) // settled in tar order, after the kept entries before it
				}
				return nil
			}
			a.order.add(uint32(a.entries.n) | deferred)
			a.entries.add(en)
		case KindWhiteout:
			// dive's layer tree holds a ".wh.x" node under the parent, not x.
			a.mark(nd.parent)
			a.entries.add(entry{n: i, kind: KindWhiteout})
		case KindOpaque, KindMeta:
			// dive drops the marker but keeps its directory, implied.
			if i == 0 {
				return nil
			}
			a.see(i, nd)
			a.mark(nd.parent)
			if e.Kind == KindOpaque {
				a.entries.add(entry{n: i, kind: KindOpaque})
			}
		}
		return nil
	})
	lr.TarSize = n
	if err != nil {
		return err
	}
	a.remove(k)
	a.add(k)
	a.efficiency()
	a.eachTouched(func(_ uint32, n *node) { n.flags &^= layerMarks })
	return nil
}

// see puts node i in the layer's tree.
func (a *analyzer) see(i uint32, n *node) {
	if !n.has(fSeen) {
		n.flags |= fSeen
		if i < a.start || a.opts.KeepChanges {
			a.touched.add(i)
		}
	}
}

// eachTouched calls f for each node of the layer's tree.
func (a *analyzer) eachTouched(f func(i uint32, n *node)) {
	for j := range a.touched.n {
		i := *a.touched.at(j)
		f(i, a.t.node(i))
	}
	if a.opts.KeepChanges {
		return
	}
	for i := a.start; i < uint32(a.t.nodes.n); i++ {
		if n := a.t.node(i); n.has(fSeen) {
			f(i, n)
		}
	}
}

// mark puts node i and its parents in the layer's tree as having children.
func (a *analyzer) mark(i uint32) {
	for i != 0 {
		n := a.t.node(i)
		if n.has(fChild) {
			return // its parents are marked already
		}
		a.see(i, n)
		n.flags |= fChild
		i = n.parent
	}
}

// below: n is in the real tree of the layers below the one being read.
func below(n *node) bool { return n.flags&(fPresent|fFresh) == fPresent }

// dBelow: n is in dive's tree of the layers below.
func dBelow(n *node) bool { return n.flags&(fDPresent|fFresh) == fDPresent }

// remove applies the layer's whiteouts and opaque markers to the layers
// below it, before its own files are added (the OCI order). Paths the
// layer added during the walk (fFresh) were absent below: they are skipped,
// and so is everything under them.
func (a *analyzer) remove(k uint16) {
	var kids children // built only if some subtree is to be walked
	for j := range a.entries.n {
		e := a.entries.at(j)
		if n := a.t.node(e.n); e.kind == KindOpaque || e.kind == KindWhiteout && (dBelow(n) || below(n)) {
			kids = a.t.children()
			break
		}
	}
	// dive sizes every whiteout on the tree of the layers below, so all are
	// sized before any is applied.
	for j := range a.entries.n {
		e := a.entries.at(j)
		if e.kind != KindWhiteout {
			continue
		}
		n := a.t.node(e.n)
		switch {
		case !dBelow(n):
			e.missing = true
		case n.has(fDIsDir):
			e.hash = uint64(a.diveSize(kids, e.n))
		}
	}
	for j := range a.entries.n {
		e := a.entries.at(j)
		switch e.kind {
		case KindWhiteout:
			a.diveRemove(kids, e.n)
			if below(a.t.node(e.n)) {
				a.removeReal(kids, e.n)
			}
		case KindOpaque:
			for _, c := range kids.of(e.n) {
				if below(a.t.node(c)) {
					a.removeReal(kids, c)
				}
			}
		}
	}
}

func (a *analyzer) diveSize(kids children, i uint32) int64 {
	if !dBelow(a.t.node(i)) {
		return 0
	}
	s := a.t.dSize(i)
	for _, c := range kids.of(i) {
		s += a.diveSize(kids, c)
	}
	return s
}

func (a *analyzer) diveRemove(kids children, i uint32) {
	n := a.t.node(i)
	if !dBelow(n) {
		return
	}
	n.flags &^= fDPresent
	for _, c := range kids.of(i) {
		a.diveRemove(kids, c)
	}
}

func (a *analyzer) removeReal(kids children, i uint32) {
	n := a.t.node(i)
	n.flags = n.flags&^fPresent | fRemoved
	a.retire(i, n)
	a.pending.add(i)
	for _, c := range kids.of(i) {
		if below(a.t.node(c)) {
			a.removeReal(kids, c)
		}
	}
}

// apply makes file entry e the present version of its path and says what
// that is for the layer.
func (a *analyzer) apply(e *entry, k uint16) (status Status, metaOnly bool) {
	t := a.t
	n := t.node(e.n)
	dOld := t.dSize(e.n)
	status = Added
	if n.has(fPresent | fRemoved) {
		status = Modified
		size := t.size(e.n)
		metaOnly = n.typ == e.typ && e.typ != tar.TypeDir && size == e.size
		if metaOnly && e.typ == tar.TypeReg && (e.lazy || !n.has(fHashed)) {
			a.resolve(e, n, k)
		}
		metaOnly = metaOnly && n.hash() == e.hash
		if !n.isDir() && size > 0 && n.layer != k {
			how := "overwritten"
			if metaOnly {
				how = "metadata-only"
			}
			a.waste(e.n, size, n.layer, k, how)
		}
		a.retire(e.n, n)
	}
	n.flags = n.flags&^(fRemoved|fHashed|fDIsDir|fDZero) | fPresent | fDPresent | fChanged
	if e.typ == tar.TypeDir {
		n.flags |= fDIsDir
	}
	n.typ, n.layer, n.change = e.typ, k, status
	n.setHash(e.hash)
	t.setSize(e.n, e.size)
	a.effKeep(e.n, n, dOld)
	if e.lazy {
		n.setHash(0)
		a.offs[e.n] = int64(e.hash)
	} else {
		n.flags |= fHashed
		if len(a.offs) > 0 {
			delete(a.offs, e.n)
		}
	}
	return status, metaOnly
}

// settle counts an applied file entry, records the change and registers
// the content.
func (a *analyzer) settle(e *entry, k uint16, status Status, metaOnly bool) {
	lr := &a.res.Layers[k]
	if e.typ != tar.TypeDir {
		if status == Added {
			lr.Added.add(e.size)
		} else {
			lr.Modified.add(e.size)
			if metaOnly {
				lr.MetadataOnly.add(e.size)
			}
		}
	}
	if a.opts.KeepChanges {
		lr.Changes = append(lr.Changes, Change{Path: a.t.path(e.n), Status: status, Size: e.size, Dir: e.typ == tar.TypeDir, MetadataOnly: metaOnly})
	}
	if e.typ == tar.TypeReg && e.size > 0 {
		a.content(e.n, k, e)
	}
}

// add applies the layer's kept files, then the directories it implies,
// then settles what its whiteouts removed.
func (a *analyzer) add(k uint16) {
	lr := &a.res.Layers[k]
	t := a.t
	for j := range a.order.n {
		o := *a.order.at(j)
		if o&deferred != 0 {
			e := a.entries.at(int(o &^ deferred))
			status, metaOnly := a.apply(e, k)
			a.settle(e, k, status, metaOnly)
			continue
		}
		// Applied during the walk: nothing since has touched it.
		n := t.node(o)
		e := entry{n: o, kind: KindFile, typ: n.typ, size: t.size(o), hash: n.hash()}
		if !n.has(fHashed) {
			e.hash, e.lazy = uint64(a.offs[o]), true
		}
		a.settle(&e, k, Added, false)
	}
	// Directories the layer implies without an entry of their own.
	a.eachTouched(func(i uint32, n *node) {
		if n.has(fExplicit) {
			return
		}
		dOld := t.dSize(i)
		n.flags = n.flags&^fDIsDir | fDPresent | fDZero
		if !n.has(fPresent) {
			status := Added
			if n.has(fRemoved) {
				status = Modified
			}
			n.flags = n.flags&^fRemoved | fPresent | fChanged
			n.typ, n.layer, n.change = tar.TypeDir, k, status
			t.setSize(i, 0)
			if a.opts.KeepChanges {
				lr.Changes = append(lr.Changes, Change{Path: t.path(i), Status: status, Dir: true})
			}
		}
		a.effKeep(i, n, dOld)
	})
	for j := range a.pending.n {
		i := *a.pending.at(j)
		n := t.node(i)
		if !n.has(fRemoved) {
			continue // re-added by this layer: counted as modified above
		}
		n.flags = n.flags&^fRemoved | fChanged
		n.change = Removed
		size := t.size(i)
		if !n.isDir() {
			lr.Removed.add(size)
			if size > 0 {
				a.waste(i, size, n.layer, k, "removed")
			}
		}
		if a.opts.KeepChanges {
			lr.Changes = append(lr.Changes, Change{Path: t.path(i), Status: Removed, Size: size, Dir: n.isDir()})
		}
	}
	changed := lr.Added.Files + lr.Modified.Files + lr.Removed.Files
	lr.OnlyMetadata = changed > 0 && lr.MetadataOnly.Files == changed
}

func (a *analyzer) waste(i uint32, size int64, by, replacedBy uint16, how string) {
	a.res.WastedCopies = append(a.res.WastedCopies, WastedCopy{Path: a.t.path(i), Size: size, WrittenBy: int(by), ReplacedBy: int(replacedBy), How: how})
	a.res.WastedCopyBytes += size
	a.res.Layers[by].WastedBytes += size
}

// resolve hashes the lazy ones of a new version e and the version of n it
// replaces, which have the same size, to tell a metadata-only copy.
func (a *analyzer) resolve(e *entry, n *node, k uint16) {
	if !n.has(fHashed) {
		n.setHash(a.hashAt(n.layer, a.offs[e.n], a.t.size(e.n)))
		n.flags |= fHashed
		delete(a.offs, e.n)
	}
	if e.lazy {
		e.hash, e.lazy = a.hashAt(k, int64(e.hash), e.size), false
	}
}

// cmpPath orders paths as a depth-first walk with sorted names does: a
// directory's whole subtree before its next sibling ('/' sorts first).
func cmpPath(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

func (a *analyzer) finish() {
	r := a.res
	for i, l := range r.Layers {
		r.SizeBytes += l.Size
		if i > 0 {
			r.UserSizeBytes += l.Size
		}
		if l.OnlyMetadata {
			r.MetadataOnlyLayers = append(r.MetadataOnlyLayers, i)
		}
	}
	// What only the layers needed goes before the duplicates are sorted.
	a.entries, a.order, a.touched, a.pending = chunks[entry]{}, chunks[uint32]{}, chunks[uint32]{}, chunks[uint32]{}
	a.offs, a.lazy, a.hashedSizes = nil, nil, nil
	var minSum, cumSum int64
	for i := range a.t.nodes.n {
		n := a.t.node(uint32(i))
		if n.flags&effMask == effNone {
			continue
		}
		least, cum, count := a.eff(uint32(i), n)
		minSum += least
		cumSum += cum
		if count >= 2 {
			r.Inefficiencies = append(r.Inefficiencies, Inefficiency{Path: a.t.path(uint32(i)), Count: int(count), Bytes: cum})
			r.WastedBytes += cum
		}
	}
	a.effs = nil
	r.Efficiency = 1
	if cumSum != 0 {
		r.Efficiency = float64(minSum) / float64(cumSum)
	}
	r.WastedUserPercent = Ratio(float64(r.WastedBytes) / float64(r.UserSizeBytes))
	sort.Slice(r.Inefficiencies, func(i, j int) bool {
		x, y := r.Inefficiencies[i], r.Inefficiencies[j]
		if x.Bytes != y.Bytes {
			return x.Bytes > y.Bytes
		}
		return x.Path < y.Path
	})
	// Biggest first; ties by path and layer, so the report is the same in
	// every run.
	sort.Slice(r.WastedCopies, func(i, j int) bool {
		x, y := r.WastedCopies[i], r.WastedCopies[j]
		if x.Size != y.Size {
			return x.Size > y.Size
		}
		if x.Path != y.Path {
			return x.Path < y.Path
		}
		return x.WrittenBy < y.WrittenBy
	})
	for _, grp := range a.groups() {
		g := grp.copies
		layers := map[uint16]bool{}
		for _, c := range g {
			layers[c.layer] = true
		}
		if len(layers) < 2 {
			continue // several copies in one layer: the layer's own business
		}
		size := grp.size
		d := Duplicate{Size: size, WastedBytes: size * int64(len(g)-1)}
		for _, c := range g {
			d.Copies = append(d.Copies, Copy{Path: a.t.path(c.n), Layer: int(c.layer)})
		}
		r.Duplicates = append(r.Duplicates, d)
		r.DuplicateBytes += d.WastedBytes
	}
	sort.SliceStable(r.Duplicates, func(i, j int) bool {
		x, y := r.Duplicates[i], r.Duplicates[j]
		if x.WastedBytes != y.WastedBytes {
			return x.WastedBytes > y.WastedBytes
		}
		return x.Copies[0].Path < y.Copies[0].Path
	})
	r.tree = a.t
	a.t.slots, a.t.tags = nil, nil
	a.runs, a.recs = chunks[arrivalRun]{}, chunks[dupRec]{}
}

package analyze

import (
	"archive/tar"
	"cmp"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"math/bits"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Options tune an analysis.
type Options struct {
	// KeepChanges records every path each layer changes in LayerResult.Changes
	// (for trees, the interactive view and the HTML page). Without it the
	// memory per layer is counters only.
	KeepChanges bool
	// UpTo stops after layer UpTo (0-based) when >= 0: --tree --layer N
	// needs the image only up to N.
	UpTo int
}

// Status is what a layer did to a path.
type Status uint8

const (
	Unchanged Status = iota
	Added
	Modified
	Removed
)

func (s Status) String() string {
	return [...]string{"unchanged", "added", "modified", "removed"}[s]
}

// MarshalText makes statuses words in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Count is a number of files and their bytes.
type Count struct {
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
}

func (c *Count) add(size int64) { c.Files++; c.Bytes += size }

// Change is one path a layer added, modified or removed.
type Change struct {
	Path   string `json:"path"`
	Status Status `json:"status"`
	Size   int64  `json:"size"`
	Dir    bool   `json:"dir,omitempty"`
	// MetadataOnly: the content is the same as the copy it replaces; only
	// mode, owner or times changed, yet the whole file ships again.
	MetadataOnly bool `json:"metadataOnly,omitempty"`
}

// LayerResult is what one layer does. Counts are of non-directory entries:
// a directory listed again in a layer is a new mtime, not new content.
type LayerResult struct {
	Index       int           `json:"index"`
	Digest      digest.Digest `json:"digest"`
	DiffID      digest.Digest `json:"diffID,omitempty"`
	MediaType   string        `json:"mediaType,omitempty"`
	BlobSize    int64         `json:"blobSize"` // bytes of the (compressed) blob
	TarSize     int64         `json:"tarSize"`  // bytes of the uncompressed tar
	Size        int64         `json:"size"`     // dive's layer size: the sum of its entries' sizes
	Instruction string        `json:"instruction"`
	Entries     int64         `json:"entries"`
	Added       Count         `json:"added"`
	Modified    Count         `json:"modified"`
	Removed     Count         `json:"removed"`
	// MetadataOnly counts the files this layer rewrote with unchanged
	// content (chmod, chown, touch of lower files): each is a full copy.
	MetadataOnly Count `json:"metadataOnly"`
	// OnlyMetadata: every file change of the layer is a metadata-only copy.
	OnlyMetadata bool `json:"onlyMetadata"`
	// WastedBytes are bytes this layer wrote that a later layer overwrote or
	// removed: they ship but are never seen.
	WastedBytes int64    `json:"wastedBytes"`
	Changes     []Change `json:"changes,omitempty"`
}

// Inefficiency is a path dive reports: found in several layers (or
// removed), with the bytes of all its versions.
type Inefficiency struct {
	Path  string `json:"path"`
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
}

// WastedCopy is one copy of a path that ships in the image but is hidden:
// written by one layer, overwritten or removed by a later one.
type WastedCopy struct {
	Path       string `json:"path"`
	Size       int64  `json:"size"`
	WrittenBy  int    `json:"writtenBy"`
	ReplacedBy int    `json:"replacedBy"`
	// How: "overwritten", "removed", or "metadata-only" (overwritten by the
	// same content with other mode, owner or times).
	How string `json:"how"`
}

// Copy is one occurrence of some content.
type Copy struct {
	Path  string `json:"path"`
	Layer int    `json:"layer"`
}

// Duplicate is a content shipped by several layers.
type Duplicate struct {
	Size        int64  `json:"size"`
	Copies      []Copy `json:"copies"`
	WastedBytes int64  `json:"wastedBytes"` // size x (copies - 1)
}

// Ratio is a float that encodes as null when it is not finite (dive's user
// wasted percent divides by zero for a one-layer image).
type Ratio float64

// MarshalJSON writes null for NaN and infinities, which JSON lacks.
func (r Ratio) MarshalJSON() ([]byte, error) {
	f := float64(r)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// CIReport is the verdict of the CI rules.
type CIReport struct {
	Rules []RuleResult `json:"rules"`
	Pass  bool         `json:"pass"`
}

// Result is the analysis of an image.
type Result struct {
	Image  string        `json:"image"`
	Layers []LayerResult `json:"layers"`

	// dive's figures, computed as dive computes them.
	SizeBytes         int64          `json:"sizeBytes"`
	UserSizeBytes     int64          `json:"userSizeBytes"` // all layers but the first
	Efficiency        float64        `json:"efficiency"`
	WastedBytes       int64          `json:"wastedBytes"`
	WastedUserPercent Ratio          `json:"wastedUserPercent"`
	Inefficiencies    []Inefficiency `json:"inefficientFiles"`

	// What dive does not tell.
	WastedCopies       []WastedCopy `json:"wastedCopies"`
	WastedCopyBytes    int64        `json:"wastedCopyBytes"`
	MetadataOnlyLayers []int        `json:"metadataOnlyLayers"`
	Duplicates         []Duplicate  `json:"duplicates"`
	DuplicateBytes     int64        `json:"duplicateBytes"`

	// CI is the verdict of --ci.
	CI *CIReport `json:"ci,omitempty"`

	tree *tree // final state, for trees
	upTo int
}

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

// effRec is dive's efficiency data of a path with several versions: their
// least size, their total and their number.
type effRec struct {
	min, cum, n int64
}

// deferred marks an entry index in analyzer.order (else a node index).
const deferred = 1 << 31

type analyzer struct {
	t      *tree
	seed   maphash.Seed
	opts   Options
	res    *Result
	layers []Layer

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

// Analyze reads every layer of im once, in order, and returns the analysis.
//
// Per layer: the walk applies at once each file of a path absent below
// (nothing of the layer can remove it: whiteouts and opaque markers apply
// to the layers below) and keeps an entry for anything else; at the layer's
// end its whiteouts and opaque markers remove what they hide, the kept files
// are applied, the directories the layer implies are added, and dive's
// per-path efficiency data is updated.
func Analyze(im *Image, opts Options) (*Result, error) {
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
	instr := instructions(im.History, len(im.Layers))
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
	return a.res, nil
}

func (a *analyzer) layer(k uint16, l Layer) error {
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
	n, err := Walk(rc, a.seed, lazyMin, func(e *Entry) error {
		lr.Size += e.Size
		lr.Entries++
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

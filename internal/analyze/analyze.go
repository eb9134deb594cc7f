package analyze

import (
	"archive/tar"
	"cmp"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"math"
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

	root *node // final state, for trees
	upTo int
}

// node is the state of one path across the layers read so far. It is the
// whole per-file memory of an analysis, so it stays small: a 100,000-file
// image is about 100,000 nodes.
type node struct {
	name   string
	parent *node
	kids   map[string]*node

	// The union filesystem as it really is (opaque directories honoured):
	// present, typ, size, hash (known unless a lazy big file: hashed), and
	// the layer that wrote the present version. Where a lazy version's
	// content starts in its layer's tar is in analyzer.offs.
	size  int64
	hash  uint64
	layer int32 // layer that wrote the present version

	changeLayer int32
	removedIn   int32 // removed by the layer being read, perhaps re-added by it

	// dive's stacked tree, which differs from the real one: dive ignores
	// opaque markers, and a directory implied by a deeper path (no entry of
	// its own) is a zero-size non-directory there (dPresent, dIsDir, dSize).
	dSize int64

	// dive's per-path efficiency data: versions seen, their total and least
	// size (-1: none yet). effSeen: dive has an entry for the path, which a
	// whiteout of a path it lacks creates with no version, adding -1 to the
	// sum of least sizes.
	effCum int64
	effMin int64
	effN   int32

	// Marks of the layer being read, to know the layer's own tree without
	// building it: seen (in the layer's tree, maybe only as a parent),
	// child (has a child there), explicit (has its own entry), visited.
	seen, child, explicit, visited int32

	present  bool
	typ      byte
	hashed   bool
	change   Status // what changeLayer did to the path
	dPresent bool
	dIsDir   bool
	effSeen  bool
}

func newNode(name string, parent *node) *node {
	n := &node{}
	initNode(n, name, parent)
	return n
}

func initNode(n *node, name string, parent *node) {
	*n = node{name: name, parent: parent, effMin: -1, changeLayer: -1, removedIn: -1, seen: -1, child: -1, explicit: -1, visited: -1}
}

// newNode allocates nodes in slabs: one allocation per nodeSlab nodes
// instead of one per path, and no size-class rounding.
func (a *analyzer) newNode(name string, parent *node) *node {
	if len(a.slab) == cap(a.slab) {
		a.slab = make([]node, 0, nodeSlab)
	}
	a.slab = a.slab[:len(a.slab)+1]
	n := &a.slab[len(a.slab)-1]
	initNode(n, name, parent)
	return n
}

const nodeSlab = 1024

func (n *node) path() string {
	if n.parent == nil {
		return ""
	}
	var parts []string
	for p := n; p.parent != nil; p = p.parent {
		parts = append(parts, p.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

func (n *node) isDir() bool { return n.typ == tar.TypeDir }

// lookup finds (creating) the node of a cleaned path; "" is the root.
func (a *analyzer) lookup(p string) *node {
	n := a.root
	for p != "" {
		var seg string
		if i := strings.IndexByte(p, '/'); i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			seg, p = p, ""
		}
		c := n.kids[seg]
		if c == nil {
			if n.kids == nil {
				n.kids = map[string]*node{}
			}
			// Clone: seg points into the entry's name, which must not stay alive.
			c = a.newNode(strings.Clone(seg), n)
			n.kids[c.name] = c
		}
		n = c
	}
	return n
}

// entry is a layer's tar entry kept until the layer's end: whiteouts apply
// to the layers below, and which paths are leaves of the layer's own tree
// (dive counts leaves) is known only once every entry has been read.
type entry struct {
	n        *node
	kind     uint8
	typ      byte
	lazy     bool
	missing  bool // dive: a whiteout of a path its stacked tree lacks
	implicit bool
	size     int64
	// hash is the content hash of a file; of a lazy one, where its
	// content starts in the tar; of a whiteout, the bytes it removes for
	// dive. One field for three keeps entries at 32 bytes.
	hash uint64
}

type analyzer struct {
	root    *node
	seed    maphash.Seed
	opts    Options
	res     *Result
	dups    chunks[dupRec]
	entries chunks[entry]
	touched []*node
	pending []*node

	// Big files of seekable layers are hashed only when another file has
	// their size: lazy holds those not hashed yet, by size; hashedSizes the
	// sizes of big files hashed already.
	layers      []Layer
	lazy        map[int64][]dupCopy
	offs        map[*node]int64 // where a lazy present version starts in its layer's tar
	slab        []node
	hashedSizes map[int64]bool
	readers     map[int32]io.ReadCloser
	err         error // of a lazy read
}

// lazyMin is the size from which a file of a seekable layer is skipped
// rather than hashed while streaming.
const lazyMin = 1 << 20

// Analyze reads every layer of im once, in order, and returns the analysis.
func Analyze(im *Image, opts Options) (*Result, error) {
	a := &analyzer{
		root: newNode("", nil),
		seed: maphash.MakeSeed(),
		opts: opts,
		res:  &Result{Image: im.Name, upTo: len(im.Layers) - 1},
		lazy: map[int64][]dupCopy{}, offs: map[*node]int64{}, hashedSizes: map[int64]bool{}, readers: map[int32]io.ReadCloser{},
		layers: im.Layers,
	}
	defer func() {
		for _, r := range a.readers {
			r.Close()
		}
	}()
	a.root.present, a.root.typ, a.root.dPresent, a.root.dIsDir = true, tar.TypeDir, true, true
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
		if err := a.layer(i, l); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
		}
	}
	if a.err != nil {
		return nil, a.err
	}
	a.finish()
	return a.res, nil
}

func (a *analyzer) layer(k int, l Layer) error {
	rc, err := l.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	lr := &a.res.Layers[k]
	a.entries.reset()
	a.touched, a.pending = a.touched[:0], a.pending[:0]
	k32 := int32(k)
	n, err := Walk(rc, a.seed, lazyMin, func(e *Entry) error {
		lr.Size += e.Size
		lr.Entries++
		en := entry{kind: uint8(e.Kind), typ: e.Type, size: e.Size, hash: e.Hash, lazy: e.Lazy}
		switch {
		case e.Kind == KindWhiteout:
			en.hash, en.lazy = 0, false // sized later
		case e.Lazy:
			en.hash = uint64(e.Offset)
		}
		switch e.Kind {
		case KindFile:
			en.n = a.lookup(e.Target)
			a.mark(en.n.parent, k32)
			a.see(en.n, k32)
			en.n.explicit = k32
		case KindWhiteout:
			// dive's layer tree holds a ".wh.x" node under the parent, not x.
			en.n = a.lookup(e.Target)
			a.mark(en.n.parent, k32)
		case KindOpaque, KindMeta:
			// dive drops the marker but keeps its directory, implied.
			en.n = a.lookup(e.Target)
			if en.n == a.root {
				return nil
			}
			a.see(en.n, k32)
			a.mark(en.n.parent, k32)
			if e.Kind == KindMeta {
				return nil
			}
		}
		a.entries.add(en)
		return nil
	})
	lr.TarSize = n
	if err != nil {
		return err
	}
	a.remove(k32)
	a.add(k32)
	a.efficiency(k32)
	return nil
}

// see puts n in the layer's tree.
func (a *analyzer) see(n *node, k int32) {
	if n.seen != k {
		n.seen = k
		a.touched = append(a.touched, n)
	}
}

// mark puts n and its parents in the layer's tree as having children.
func (a *analyzer) mark(n *node, k int32) {
	for ; n != nil && n.parent != nil; n = n.parent {
		if n.child == k {
			return // its parents are marked already
		}
		a.see(n, k)
		n.child = k
	}
}

// remove applies the layer's whiteouts and opaque markers to the layers
// below it, before its own files are added (the OCI order).
func (a *analyzer) remove(k int32) {
	// dive sizes every whiteout on the tree of the layers below, so all are
	// sized before any is applied.
	for i := range a.entries.n {
		e := a.entries.at(i)
		if e.kind != KindWhiteout {
			continue
		}
		switch {
		case !e.n.dPresent:
			e.missing = true
		case e.n.dIsDir:
			e.hash = uint64(diveSize(e.n))
		}
	}
	for i := range a.entries.n {
		e := a.entries.at(i)
		switch e.kind {
		case KindWhiteout:
			diveRemove(e.n)
			if e.n.present {
				a.removeReal(e.n, k)
			}
		case KindOpaque:
			for _, c := range e.n.kids {
				if c.present {
					a.removeReal(c, k)
				}
			}
		}
	}
}

func diveSize(n *node) int64 {
	if !n.dPresent {
		return 0
	}
	s := n.dSize
	for _, c := range n.kids {
		s += diveSize(c)
	}
	return s
}

func diveRemove(n *node) {
	if !n.dPresent {
		return
	}
	n.dPresent = false
	for _, c := range n.kids {
		diveRemove(c)
	}
}

func (a *analyzer) removeReal(n *node, k int32) {
	n.present = false
	n.removedIn = k
	a.pending = append(a.pending, n)
	for _, c := range n.kids {
		if c.present {
			a.removeReal(c, k)
		}
	}
}

// add applies the layer's files, then settles what its whiteouts removed.
func (a *analyzer) add(k int32) {
	lr := &a.res.Layers[k]
	for i := range a.entries.n {
		e := a.entries.at(i)
		if e.kind != KindFile {
			continue
		}
		n := e.n
		existed := n.present || n.removedIn == k
		status := Added
		metaOnly := false
		if existed {
			status = Modified
			metaOnly = n.typ == e.typ && e.typ != tar.TypeDir && n.size == e.size
			if metaOnly && e.typ == tar.TypeReg && (e.lazy || !n.hashed) {
				a.resolve(e, n, k)
			}
			metaOnly = metaOnly && n.hash == e.hash
			if !n.isDir() && n.size > 0 && n.layer != k {
				how := "overwritten"
				if metaOnly {
					how = "metadata-only"
				}
				a.waste(n, n.size, n.layer, k, how)
			}
		}
		n.present, n.removedIn = true, -1
		n.typ, n.size, n.hash, n.layer = e.typ, e.size, e.hash, k
		n.hashed = !e.lazy
		if e.lazy {
			n.hash = 0
			a.offs[n] = int64(e.hash)
		} else if len(a.offs) > 0 {
			delete(a.offs, n)
		}
		n.change, n.changeLayer = status, k
		n.dPresent, n.dIsDir, n.dSize = true, e.typ == tar.TypeDir, e.size
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
			lr.Changes = append(lr.Changes, Change{Path: n.path(), Status: status, Size: e.size, Dir: e.typ == tar.TypeDir, MetadataOnly: metaOnly})
		}
		if e.typ == tar.TypeReg && e.size > 0 {
			a.content(n, k, e)
		}
	}
	// Directories the layer implies without an entry of their own.
	for _, n := range a.touched {
		if n.explicit == k {
			continue
		}
		n.dPresent, n.dIsDir, n.dSize = true, false, 0
		if !n.present {
			status := Added
			if n.removedIn == k {
				status = Modified
			}
			n.present, n.removedIn, n.typ, n.size, n.layer = true, -1, tar.TypeDir, 0, k
			n.change, n.changeLayer = status, k
			if a.opts.KeepChanges {
				lr.Changes = append(lr.Changes, Change{Path: n.path(), Status: status, Dir: true})
			}
		}
	}
	for _, n := range a.pending {
		if n.removedIn != k {
			continue // re-added by this layer: counted as modified above
		}
		n.removedIn = -1
		n.change, n.changeLayer = Removed, k
		if !n.isDir() {
			lr.Removed.add(n.size)
			if n.size > 0 {
				a.waste(n, n.size, n.layer, k, "removed")
			}
		}
		if a.opts.KeepChanges {
			lr.Changes = append(lr.Changes, Change{Path: n.path(), Status: Removed, Size: n.size, Dir: n.isDir()})
		}
	}
	changed := lr.Added.Files + lr.Modified.Files + lr.Removed.Files
	lr.OnlyMetadata = changed > 0 && lr.MetadataOnly.Files == changed
}

func (a *analyzer) waste(n *node, size int64, by, replacedBy int32, how string) {
	a.res.WastedCopies = append(a.res.WastedCopies, WastedCopy{Path: n.path(), Size: size, WrittenBy: int(by), ReplacedBy: int(replacedBy), How: how})
	a.res.WastedCopyBytes += size
	a.res.Layers[by].WastedBytes += size
}

// resolve hashes the lazy ones of a new version e and the version of n it
// replaces, which have the same size, to tell a metadata-only copy.
func (a *analyzer) resolve(e *entry, n *node, k int32) {
	if !n.hashed {
		n.hash, n.hashed = a.hashAt(n.layer, a.offs[n], n.size), true
		delete(a.offs, n)
	}
	if e.lazy {
		e.hash, e.lazy = a.hashAt(k, int64(e.hash), e.size), false
	}
}

// content registers a file's content for duplicate detection. A lazy file
// is hashed only once another big file has its size; until then its size
// alone proves it unique.
func (a *analyzer) content(n *node, k int32, e *entry) {
	size := e.size
	if size >= lazyMin {
		if refs := a.lazy[size]; len(refs) > 0 {
			delete(a.lazy, size)
			for _, r := range refs {
				h := a.hashAt(r.layer, r.off, size)
				if r.n.layer == r.layer && !r.n.hashed {
					r.n.hash, r.n.hashed = h, true
				}
				a.dup(r.n, r.layer, h, size)
			}
			a.hashedSizes[size] = true
		}
		if e.lazy {
			if !a.hashedSizes[size] {
				a.lazy[size] = append(a.lazy[size], dupCopy{n: n, layer: k, off: int64(e.hash)})
				return
			}
			e.hash, e.lazy = a.hashAt(k, int64(e.hash), size), false
			n.hash, n.hashed = e.hash, true
			delete(a.offs, n)
		}
		a.hashedSizes[size] = true
	}
	a.dup(n, k, e.hash, size)
}

// hashAt hashes size bytes at off in layer k's tar, which is seekable (the
// only kind whose files are lazy). The first failure stops the analysis.
func (a *analyzer) hashAt(k int32, off, size int64) uint64 {
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

// dupRec is one regular file's content, recorded for the duplicate report;
// the records are grouped by content once, at the end (a radix sort of
// their hashes costs less memory and time than a map updated per file).
type dupRec struct {
	n     *node
	hash  uint64
	size  int64
	layer int32
}

type dupGroup struct {
	size   int64
	copies []dupCopy
}

type dupCopy struct {
	n     *node
	layer int32
	off   int64 // of a lazy copy
}

func (a *analyzer) dup(n *node, k int32, h uint64, size int64) {
	a.dups.add(dupRec{n: n, hash: h, size: size, layer: k})
}

// groups returns the contents found more than once, each with its copies
// in order of arrival, the groups in the order their second copy arrived.
func (a *analyzer) groups() []dupGroup {
	keys := make([]hashKey, a.dups.n)
	for i := range keys {
		keys[i] = hashKey{a.dups.at(i).hash, int32(i)}
	}
	keys = radixSort(keys, make([]hashKey, len(keys)))
	type keyed struct {
		second int32
		g      dupGroup
	}
	var gs []keyed
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j].h == keys[i].h {
			j++
		}
		// One hash, in order of arrival; split by size on the off chance
		// that different contents share it.
		for run := keys[i:j]; len(run) >= 2; {
			size := a.dups.at(int(run[0].i)).size
			var g dupGroup
			second := int32(-1)
			var rest []hashKey
			for _, k := range run {
				r := a.dups.at(int(k.i))
				if r.size != size {
					rest = append(rest, k)
					continue
				}
				if len(g.copies) == 1 {
					second = k.i
				}
				g.copies = append(g.copies, dupCopy{n: r.n, layer: r.layer})
			}
			if len(g.copies) >= 2 {
				g.size = size
				gs = append(gs, keyed{second, g})
			}
			run = rest
		}
		i = j
	}
	slices.SortFunc(gs, func(x, y keyed) int { return cmp.Compare(x.second, y.second) })
	out := make([]dupGroup, len(gs))
	for i := range gs {
		out[i] = gs[i].g
	}
	return out
}

type hashKey struct {
	h uint64
	i int32
}

// radixSort sorts a by hash, stably (equal hashes stay in index order),
// using tmp (as long as a) as scratch; it returns the sorted slice.
func radixSort(a, tmp []hashKey) []hashKey {
	if len(a) < 2 {
		return a
	}
	for shift := 0; shift < 64; shift += 8 {
		var cnt [256]int
		for _, k := range a {
			cnt[byte(k.h>>shift)]++
		}
		if cnt[byte(a[0].h>>shift)] == len(a) {
			continue // one digit for all: nothing to move
		}
		pos := 0
		for d, c := range cnt {
			cnt[d] = pos
			pos += c
		}
		for _, k := range a {
			d := byte(k.h >> shift)
			tmp[cnt[d]] = k
			cnt[d]++
		}
		a, tmp = tmp, a
	}
	return a
}

// chunks is an append-only list stored in fixed chunks: no copy when it
// grows, and no doubled array at its peak. reset keeps the chunks.
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

// efficiency adds the layer's leaves to dive's per-path data, visiting them
// in dive's order (depth first, names sorted) because dive stops visiting a
// layer at a whiteout of a path it does not know.
func (a *analyzer) efficiency(k int32) {
	// Indices into entries, sorted, rather than a copy of them: the
	// buffer is the biggest thing a 100,000-file layer makes us hold.
	vis := make([]int32, 0, a.entries.n)
	for i := range a.entries.n {
		e := a.entries.at(i)
		switch e.kind {
		case KindWhiteout:
			vis = append(vis, int32(i))
		case KindFile:
			if e.n.child != k && e.n.visited != k {
				e.n.visited = k
				vis = append(vis, int32(i))
			}
		}
	}
	missing := false
	for _, n := range a.touched {
		if n.explicit != k && n.child != k {
			a.entries.add(entry{n: n, implicit: true})
			vis = append(vis, int32(a.entries.n-1))
		}
	}
	for _, i := range vis {
		missing = missing || a.entries.at(int(i)).missing
	}
	// The order matters only when dive stops early, so only then are the
	// names rebuilt (entries keep no name: it would double their memory).
	if missing {
		names := make(map[int32]string, len(vis))
		for _, i := range vis {
			e := a.entries.at(int(i))
			p := strings.TrimPrefix(e.n.path(), "/")
			if e.kind == KindWhiteout {
				dir, base := path.Split(p)
				p = dir + whiteoutPrefix + base
			}
			names[i] = p
		}
		sort.Slice(vis, func(i, j int) bool { return cmpPath(names[vis[i]], names[vis[j]]) < 0 })
	}
	for _, i := range vis {
		e := a.entries.at(int(i))
		var size int64
		switch {
		case e.kind == KindWhiteout && e.missing:
			e.n.effSeen = true
			return
		case e.kind == KindWhiteout:
			size = int64(e.hash)
		case !e.implicit:
			size = e.n.dSize
		}
		n := e.n
		n.effSeen = true
		n.effCum += size
		if n.effMin < 0 || size < n.effMin {
			n.effMin = size
		}
		n.effN++
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
	var minSum, cumSum int64
	var walk func(n *node)
	walk = func(n *node) {
		if n.effSeen {
			minSum += n.effMin
			cumSum += n.effCum
			if n.effN >= 2 {
				r.Inefficiencies = append(r.Inefficiencies, Inefficiency{Path: n.path(), Count: int(n.effN), Bytes: n.effCum})
				r.WastedBytes += n.effCum
			}
		}
		for _, c := range n.kids {
			walk(c)
		}
	}
	walk(a.root)
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
	// every run (the copies are collected from a map walk).
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
		layers := map[int32]bool{}
		for _, c := range g {
			layers[c.layer] = true
		}
		if len(layers) < 2 {
			continue // several copies in one layer: the layer's own business
		}
		size := grp.size
		d := Duplicate{Size: size, WastedBytes: size * int64(len(g)-1)}
		for _, c := range g {
			d.Copies = append(d.Copies, Copy{Path: c.n.path(), Layer: int(c.layer)})
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
	r.root = a.root
	a.dups, a.entries = chunks[dupRec]{}, chunks[entry]{}
}

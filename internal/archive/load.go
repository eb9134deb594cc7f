package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/fanout"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// Loaded is an image a load added.
type Loaded struct {
	ID    digest.Digest
	Names []image.Reference
}

// LoadResult says what a load did.
type LoadResult struct {
	Images []Loaded
	// BlobsWritten and BytesWritten count the blobs new to the store;
	// BlobsSkipped the layers that were already stored (by digest or,
	// for a docker-archive, by diffID) and were neither written nor read.
	BlobsWritten int
	BytesWritten int64
	BlobsSkipped int
}

type loadEntry struct {
	link string // target of a link
	data []byte // a small file kept in memory
	kept bool
	res  *blobResult // a blob stored (or found in the store) while streaming
}

type blobResult struct {
	digest   digest.Digest
	size     int64
	diffID   digest.Digest
	usize    int64
	content  int64 // what the layer unpacks to (layer.Blob.ContentSize)
	comp     layer.Compression
	layerErr error           // the blob is not a valid layer
	rec      *metadata.Layer // the store already had this layer
	// own is this blob itself when rec is the same layer stored in another
	// form (gzip-compressed where the archive has it uncompressed): a
	// manifest kept verbatim may name this form, so its file is held,
	// unstored, until assemble knows (held is closed when the load ends).
	own *blobResult
	// held is own's unstored file; nil once stored.
	held *content.Writer
}

type loader struct {
	st       *store.Store
	entries  map[string]*loadEntry
	byDigest map[digest.Digest]metadata.Layer
	byDiffID map[digest.Digest]metadata.Layer
	kept     int64
	held     []*content.Writer // blobs kept back by ingest, dropped at the end unless stored
	buf      []byte
	result   LoadResult
}

// Load reads an archive from r in one pass and adds its images to the
// store. It accepts docker-archive (docker 20.10 and 25+, podman, skopeo)
// and oci-archive, the whole archive gzip- or zstd-compressed or not, and
// layers compressed or not.
//
// Each blob is stored as it streams by: under blobs/sha256/<hex> its
// digest is checked against its name; a layer is checked to be a
// well-formed tar staying inside its root, and its diffID computed, in the
// same pass. A layer the store already has (same digest, or for a
// docker-archive layer same diffID) is skipped without reading it; one it
// has in another form is held unstored until a manifest names that form.
// An image the store has whole (same config) only gets the archive's
// names, as docker load does. Small
// JSON files are kept in memory, and at the end manifest.json or index.json
// says what the images are: every layer's diffID is checked against its
// config, and only when every image of the archive is valid are they
// committed, one store.AddImage each. A failed load leaves no image and no
// name; the blobs of an archive refused for a bad layer are removed
// (store.DiscardRefused), those of other failures are left for GC.
func Load(st *store.Store, r io.Reader) (*LoadResult, error) {
	res, err := load(st, r)
	return res, st.DiscardRefused(err)
}

func load(st *store.Store, r io.Reader) (*LoadResult, error) {
	lk, err := st.Writing()
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	l := &loader{st: st, entries: map[string]*loadEntry{}, byDigest: map[digest.Digest]metadata.Layer{},
		byDiffID: map[digest.Digest]metadata.Layer{}, buf: make([]byte, 2<<20)}
	defer func() {
		for _, w := range l.held {
			w.Close()
		}
	}()
	recs, err := st.LayerRecords()
	for _, rec := range recs {
		l.byDigest[rec.Digest] = rec
		l.byDiffID[rec.DiffID] = rec
	}
	if err != nil {
		return nil, err
	}
	tr, closeFn, err := archiveReader(r)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	if err := l.stream(tr); err != nil {
		return nil, err
	}
	if err := l.assemble(); err != nil {
		return nil, err
	}
	return &l.result, nil
}

// archiveReader undoes the archive's own compression. An uncompressed
// seekable file is read directly, so tar skips known blobs by seeking.
func archiveReader(r io.Reader) (*tar.Reader, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if pos, err := rs.Seek(0, io.SeekCurrent); err == nil {
			head := make([]byte, 6)
			n, _ := io.ReadFull(rs, head)
			if _, err := rs.Seek(pos, io.SeekStart); err == nil && layer.Detect(head[:n]) == layer.Uncompressed {
				return tar.NewReader(rs), func() {}, nil
			}
		}
	}
	zr, _, err := layer.Decompress(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("invalid archive: %v", err)
	}
	return tar.NewReader(zr), func() { zr.Close() }, nil
}

// smallNames are the non-blob files of an archive that are kept in memory.
func isSmallName(name string) bool {
	switch path.Base(name) {
	case "manifest.json", "index.json", "oci-layout", "repositories", "json", "VERSION":
		return true
	}
	return path.Ext(name) == ".json"
}

func (l *loader) known(rec metadata.Layer, ok bool) *metadata.Layer {
	if ok && l.st.HasBlob(rec.Digest) {
		return &rec
	}
	return nil
}

func (l *loader) stream(tr *tar.Reader) error {
	br := bufio.NewReaderSize(nil, 64<<10)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("invalid archive: truncated or corrupt tar: %v", err)
		}
		te, name, err := entryOf(hdr)
		if err != nil {
			return err
		}
		if te == nil {
			continue
		}
		if _, dup := l.entries[name]; dup {
			return fmt.Errorf("invalid archive: %s appears twice", name)
		}
		e := &loadEntry{link: te.link}
		l.entries[name] = e
		if te.link != "" {
			continue
		}
		bd, err := blobDigest(name)
		if err != nil {
			return err
		}
		if bd != "" {
			rec, ok := l.byDigest[bd]
			if r := l.known(rec, ok); r != nil {
				e.res = &blobResult{digest: bd, size: r.Size, diffID: r.DiffID, usize: r.UncompressedSize, content: r.ContentSize, rec: r}
				l.result.BlobsSkipped++
				continue
			}
		} else if h := hintDigest(name); h != "" {
			rec, ok := l.byDiffID[h]
			if r := l.known(rec, ok); r != nil {
				e.res = &blobResult{digest: r.Digest, size: r.Size, diffID: r.DiffID, usize: r.UncompressedSize, content: r.ContentSize, rec: r}
				l.result.BlobsSkipped++
				continue
			}
		}
		br.Reset(tr)
		head, _ := br.Peek(6)
		if hdr.Size <= maxSmall && (isSmallName(name) && bd == "" || bd != "" && len(head) > 0 && head[0] == '{') {
			if l.kept += hdr.Size; l.kept > maxSmallTotal {
				return errors.New("invalid archive: too much JSON")
			}
			if e.data, err = io.ReadAll(br); err != nil {
				return fmt.Errorf("invalid archive: truncated or corrupt tar: %s: %v", name, err)
			}
			if bd != "" && digest.FromBytes(e.data) != bd {
				return fmt.Errorf("invalid archive: blob %s does not match its digest", name)
			}
			e.kept = true
			continue
		}
		if e.res, err = l.ingest(br, name, bd, head); err != nil {
			return err
		}
	}
}

// ingest stores one blob, checking it as a layer on the side: a blob that
// is not a layer is stored all the same (an index may name it as something
// else), with layerErr set.
func (l *loader) ingest(src io.Reader, name string, expected digest.Digest, head []byte) (*blobResult, error) {
	w, err := l.st.NewBlobWriter()
	if err != nil {
		return nil, err
	}
	holding := false
	defer func() {
		if !holding {
			w.Close()
		}
	}()
	comp := layer.Detect(head)
	pr, pw := io.Pipe()
	type checked struct {
		b   layer.Blob
		err error
	}
	done := make(chan checked, 1)
	go func() {
		var c checked
		if comp == layer.Uncompressed {
			c.b.ContentSize, c.err = layer.CheckTar(pr)
		} else {
			c.b, c.err = layer.Check(pr)
		}
		// Always read to the end: a decompressor may stop before the
		// blob does, and the writer side must not block.
		io.Copy(io.Discard, pr)
		done <- c
	}()
	sw := &storeWriter{w: w}
	// The blob is stored and hashed while the checker reads it.
	out := fanout.New(sw, pw)
	n, copyErr := fanout.Copy(out, src, l.buf)
	out.Close()
	pw.CloseWithError(copyErr)
	c := <-done
	if sw.err != nil {
		// The store failed (a full disk), not the archive.
		return nil, fmt.Errorf("storing %s: %w", name, sw.err)
	}
	if copyErr != nil {
		return nil, fmt.Errorf("invalid archive: truncated or corrupt tar: %s: %v", name, copyErr)
	}
	res := &blobResult{digest: w.Digest(), size: n, comp: comp, layerErr: c.err}
	if expected != "" && res.digest != expected {
		return nil, fmt.Errorf("invalid archive: blob %s does not match its digest (its content is %s)", name, res.digest)
	}
	if c.err == nil {
		res.content = c.b.ContentSize
		if comp == layer.Uncompressed {
			res.diffID, res.usize = res.digest, n
		} else {
			res.diffID, res.usize = c.b.DiffID, c.b.UncompressedSize
		}
	}
	rec, ok := l.byDigest[res.digest]
	r := l.known(rec, ok)
	if r == nil && c.err == nil {
		// The same layer in another form (compressed otherwise, or not).
		rec, ok = l.byDiffID[res.diffID]
		r = l.known(rec, ok)
	}
	if r != nil {
		if r.Digest != res.digest {
			// The same layer in another form: kept back in case a
			// manifest names this one (assemble decides).
			own := *res
			res.own, own.held, holding = &own, w, true
			l.held = append(l.held, w)
		}
		// Already stored: the temporary file is dropped unsynced.
		res.rec = r
		res.digest, res.size, res.usize, res.content = r.Digest, r.Size, r.UncompressedSize, r.ContentSize
		l.result.BlobsSkipped++
		return res, nil
	}
	if _, err := w.Commit(res.digest, n); err != nil {
		return nil, err
	}
	if w.Written() {
		l.result.BlobsWritten++
		l.result.BytesWritten += n
	}
	return res, nil
}

func (l *loader) resolve(name string) (string, error) {
	return resolveIn(name, func(n string) (string, bool) {
		e := l.entries[n]
		if e == nil {
			return "", false
		}
		return e.link, true
	})
}

func (l *loader) small(name string) ([]byte, error) {
	e := l.entries[name]
	if !e.kept {
		return nil, fmt.Errorf("invalid archive: %s is not a JSON document", name)
	}
	return e.data, nil
}

// planned is a checked image, ready to commit.
type planned struct {
	raw    rawImage
	layers []metadata.Layer
	news   []*blobResult
	// stored is the same image (same config) when the store has it
	// whole: it keeps its manifest and the forms of its layers, and the
	// load only adds the archive's names, as docker load does. Taking
	// the archive's forms instead would leave the stored ones
	// unreferenced on disk (a pulled image's gzip layers) until the next
	// collection.
	stored *metadata.Image
}

// storedWhole is the image id when the store has it with every layer
// blob, else nil.
func (l *loader) storedWhole(id digest.Digest) *metadata.Image {
	im, err := l.st.Image(id)
	if err != nil {
		return nil
	}
	for _, ly := range im.Layers {
		if !l.st.HasBlob(ly.Digest) {
			return nil
		}
	}
	return im
}

func (l *loader) assemble() error {
	var raws []rawImage
	var multi []rawIndex
	var err error
	if exists(l, "index.json") && !exists(l, "manifest.json") {
		// An oci-archive: a multi-platform image in it is loaded whole.
		raws, err = parseOCI(l, &multi)
	} else {
		raws, err = parseArchive(l)
	}
	if err != nil {
		return err
	}
	inIndex := map[digest.Digest]bool{}
	for _, ix := range multi {
		idx, _, _ := image.ParseIndex(ix.raw)
		for _, m := range idx.Manifests {
			inIndex[m.Digest] = true
		}
	}
	var plans []planned
	for _, raw := range raws {
		p := planned{raw: raw}
		if !inIndex[raw.manifestDigest] {
			p.stored = l.storedWhole(raw.configDigest)
		}
		for i, rl := range raw.layers {
			e := l.entries[rl.path]
			if e.kept && e.res == nil {
				// A layer small enough to look like JSON: store it now.
				head := e.data[:min(6, len(e.data))]
				if e.res, err = l.ingest(bytes.NewReader(e.data), rl.path, "", head); err != nil {
					return err
				}
			}
			res := e.res
			named := res // the form the manifest names
			if rl.desc.Digest != "" && res.digest != rl.desc.Digest && res.own != nil && res.own.digest == rl.desc.Digest {
				named = res.own
				if p.stored == nil {
					// The manifest names the form the store lacks.
					res = named
				}
			}
			if res.layerErr != nil {
				return fmt.Errorf("layer %d (%s, %s): %w", i, res.digest, rl.path, res.layerErr)
			}
			if res.diffID != rl.diffID {
				return fmt.Errorf("invalid image %s: layer %d (%s) unpacks to %s, the config says %s", raw.configDigest, i, rl.path, res.diffID, rl.diffID)
			}
			if rl.desc.Digest != "" && (named.digest != rl.desc.Digest || named.size != rl.desc.Size) {
				return fmt.Errorf("invalid image %s: layer %d is %s (%d bytes), the manifest says %s (%d bytes)", raw.manifestDigest, i, named.digest, named.size, rl.desc.Digest, rl.desc.Size)
			}
			mt := rl.desc.MediaType
			if res.rec != nil {
				if mt == "" {
					mt = res.rec.MediaType
				}
			} else {
				p.news = append(p.news, res)
			}
			if mt == "" {
				mt = store.LayerMediaType(res.comp)
			}
			p.layers = append(p.layers, metadata.Layer{Digest: res.digest, DiffID: res.diffID, Size: res.size, UncompressedSize: res.usize, ContentSize: res.content, MediaType: mt})
		}
		plans = append(plans, p)
	}
	// Every image is valid: commit.
	for _, p := range plans {
		for _, res := range p.news {
			if res.held != nil {
				if _, err := res.held.Commit(res.digest, res.size); err != nil {
					return err
				}
				if res.held.Written() {
					l.result.BlobsWritten++
					l.result.BytesWritten += res.size
				}
				res.held = nil
			}
			if _, err := l.st.IngestLayer(layer.Blob{Digest: res.digest, DiffID: res.diffID, Size: res.size, UncompressedSize: res.usize, ContentSize: res.content, Compression: res.comp}, store.LayerMediaType(res.comp)); err != nil {
				return err
			}
		}
		cd, err := l.st.PutBytes(ocispec.MediaTypeImageConfig, p.raw.config)
		if err != nil {
			return err
		}
		if cd.Digest != p.raw.configDigest {
			return fmt.Errorf("invalid archive: config %s does not match its digest", p.raw.configDigest)
		}
		md := p.raw.manifestDigest
		if p.stored != nil {
			md = p.stored.Manifest.Digest
		} else if p.raw.manifest != nil {
			d, err := l.st.PutBytes("", p.raw.manifest)
			if err != nil {
				return err
			}
			if d.Digest != md {
				return fmt.Errorf("invalid archive: manifest %s does not match its digest", md)
			}
		} else {
			m := ocispec.Manifest{
				Versioned: specs.Versioned{SchemaVersion: 2},
				MediaType: ocispec.MediaTypeImageManifest,
				Config:    cd,
				Layers:    []ocispec.Descriptor{},
			}
			for _, ly := range p.layers {
				m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ly.MediaType, Digest: ly.Digest, Size: ly.Size})
			}
			d, err := l.st.PutJSON(ocispec.MediaTypeImageManifest, m)
			if err != nil {
				return err
			}
			md = d.Digest
		}
		refs, err := parseRefs(p.raw.names)
		if err != nil {
			return err
		}
		im, err := l.st.AddImage(md, refs, nil)
		if err != nil {
			return err
		}
		if !inIndex[md] || len(refs) > 0 {
			l.result.Images = append(l.result.Images, Loaded{ID: im.ID, Names: refs})
		}
	}
	for _, ix := range multi {
		d, err := l.st.PutBytes("", ix.raw)
		if err != nil {
			return err
		}
		if d.Digest != ix.digest {
			return fmt.Errorf("invalid archive: index %s does not match its digest", ix.digest)
		}
		refs, err := parseRefs(ix.names)
		if err != nil {
			return err
		}
		if _, err := l.st.AddIndex(ix.digest, refs, nil); err != nil {
			return err
		}
		l.result.Images = append(l.result.Images, Loaded{ID: ix.digest, Names: refs})
	}
	return nil
}

func parseRefs(names []string) ([]image.Reference, error) {
	var refs []image.Reference
	for _, n := range names {
		r, err := image.ParseTagged(n)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// storeWriter keeps the store's write error apart from the archive's read
// errors, which io.Copy would return alike.
type storeWriter struct {
	w   io.Writer
	err error
}

func (s *storeWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

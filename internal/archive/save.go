package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
)

// SaveImage is an image to save and the names to give it in the archive.
type SaveImage struct {
	Source image.Source
	Names  []image.Reference
	// Index, when set (oci-archive only), makes this a multi-platform
	// image: Source is unused, and the names go to the index.
	Index *SaveIndex
}

// SaveIndex is a multi-platform image to save: its index document as
// stored and the Source of each platform's image it keeps. When an
// entry's manifest is not the one the index names (a converted image),
// the index is written anew for the manifests saved.
type SaveIndex struct {
	Raw []byte
	// Entries are keyed by the manifest digest the index has for them.
	Entries map[digest.Digest]image.Source
}

// blobOut is one blob to write: from a source as is, from a source
// decompressed, or from memory.
type blobOut struct {
	d          digest.Digest
	size       int64
	from       blobOpener
	src        digest.Digest // the source's blob to read
	decompress bool
	data       []byte
}

// blobOpener reads a blob of a Source.
type blobOpener func(digest.Digest) (io.ReadCloser, error)

// copyOpener is how save reads a source's blobs. It copies them as the
// source holds them, checking their sizes, and through the source's
// UnverifiedOpener when it has one: the store's blobs were checked when
// they were written (invariant 1), and a stored blob read as the file
// itself goes to an archive file in the kernel (copy_file_range) instead
// of through a sha256 pass in this process.
func copyOpener(ctx context.Context, src image.Source) blobOpener {
	if uo, ok := src.(image.UnverifiedOpener); ok {
		return func(d digest.Digest) (io.ReadCloser, error) { return uo.OpenBlobUnverified(ctx, d) }
	}
	return func(d digest.Digest) (io.ReadCloser, error) { return src.OpenBlob(ctx, d) }
}

// Save writes images to w as an archive of format f. A stored image's
// Source holds the store's writing lock while it is open, so that no
// garbage collection removes a blob being read.
//
// oci-archive keeps every blob byte-identical. docker-archive is the
// layout docker 25+ writes (an OCI layout plus manifest.json and
// repositories, which docker 20.10, skopeo and podman also read), with the
// layers as uncompressed tars named by their diffIDs, and an OCI manifest
// for them (the source's own when its layers are uncompressed).
// Shared blobs are written once; entries are sorted and carry fixed times,
// so the same images give the same bytes.
func Save(ctx context.Context, w io.Writer, imgs []SaveImage, f Format) error {
	blobs := map[digest.Digest]blobOut{}
	var index ocispec.Index
	index.SchemaVersion, index.MediaType = 2, ocispec.MediaTypeImageIndex
	index.Manifests = []ocispec.Descriptor{}
	var dms []dockerManifest
	repos := map[string]map[string]string{}
	for _, si := range imgs {
		if si.Index != nil {
			if f != OCIArchive {
				return fmt.Errorf("a multi-platform image goes in an oci-archive; a docker-archive holds one platform")
			}
			desc, err := saveIndex(ctx, blobs, si.Index)
			if err != nil {
				return err
			}
			index.Manifests = append(index.Manifests, namedDescriptors(desc, si.Names)...)
			continue
		}
		src := si.Source
		open := copyOpener(ctx, src)
		cfg, man, layers := src.Config(), src.Manifest(), src.Layers()
		blobs[cfg.Digest] = blobOut{d: cfg.Digest, size: int64(len(cfg.Raw)), data: cfg.Raw}
		if f == OCIArchive {
			blobs[man.Digest] = blobOut{d: man.Digest, size: int64(len(man.Raw)), data: man.Raw}
			for _, l := range layers {
				blobs[l.Digest] = blobOut{d: l.Digest, size: l.Size, from: open, src: l.Digest}
			}
		} else {
			dm := dockerManifest{Config: blobPath(cfg.Digest)}
			same := true
			var plain []image.Layer
			for i, l := range layers {
				b := blobOut{d: l.DiffID, size: l.UncompressedSize, from: open, src: l.Digest}
				if l.Digest != l.DiffID {
					b.decompress = true
					same = false
					if b.size <= 0 {
						var err error
						if b.size, err = uncompressedSize(open, l.Digest); err != nil {
							return err
						}
					}
				} else {
					b.size = l.Size
				}
				blobs[l.DiffID] = b
				dm.Layers = append(dm.Layers, blobPath(l.DiffID))
				if mt := man.Layers[i].MediaType; mt != ocispec.MediaTypeImageLayer && mt != image.MediaTypeDockerLayer {
					same = false
				}
				plain = append(plain, image.Layer{MediaType: ocispec.MediaTypeImageLayer, Digest: l.DiffID, Size: b.size})
			}
			if !same {
				var err error
				if man, err = image.ManifestOf(cfg, plain); err != nil {
					return err
				}
			}
			blobs[man.Digest] = blobOut{d: man.Digest, size: int64(len(man.Raw)), data: man.Raw}
			for _, n := range si.Names {
				dm.RepoTags = append(dm.RepoTags, n.Familiar())
				if len(layers) > 0 {
					r := repos[n.FamiliarRepository()]
					if r == nil {
						r = map[string]string{}
						repos[n.FamiliarRepository()] = r
					}
					r[n.Tag()] = layers[len(layers)-1].DiffID.Encoded()
				}
			}
			dms = append(dms, dm)
		}
		index.Manifests = append(index.Manifests, namedDescriptors(man.Descriptor(), si.Names)...)
	}

	tw := newTarWriter(w)
	tw.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	tw.dir("blobs/")
	tw.dir("blobs/sha256/")
	ds := make([]digest.Digest, 0, len(blobs))
	for d := range blobs {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	for _, d := range ds {
		b := blobs[d]
		if b.data != nil {
			tw.file(blobPath(d), b.data)
			continue
		}
		if err := tw.blob(b); err != nil {
			return err
		}
	}
	ib, err := json.Marshal(index)
	if err != nil {
		return err
	}
	tw.file("index.json", ib)
	if f == DockerArchive {
		mj, err := json.Marshal(dms)
		if err != nil {
			return err
		}
		tw.file("manifest.json", mj)
		if len(repos) > 0 {
			rj, err := json.Marshal(repos)
			if err != nil {
				return err
			}
			tw.file("repositories", rj)
		}
	}
	return tw.close()
}

// namedDescriptors is index.json's entries for a manifest or index: one
// per name, with the annotations that name it, or one without a name.
func namedDescriptors(desc ocispec.Descriptor, names []image.Reference) []ocispec.Descriptor {
	if len(names) == 0 {
		return []ocispec.Descriptor{desc}
	}
	var out []ocispec.Descriptor
	for _, n := range names {
		d := desc
		d.Annotations = map[string]string{AnnotationContainerName: n.String(), AnnotationRefName: n.Tag()}
		out = append(out, d)
	}
	return out
}

// saveIndex adds a multi-platform image's blobs (each entry's manifest,
// config and layers as they are, and the index) to blobs and returns the
// index's descriptor.
func saveIndex(ctx context.Context, blobs map[digest.Digest]blobOut, si *SaveIndex) (ocispec.Descriptor, error) {
	idx, mt, err := image.ParseIndex(si.Raw)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	raw := si.Raw
	for _, src := range si.Entries {
		open := copyOpener(ctx, src)
		cfg, man := src.Config(), src.Manifest()
		blobs[cfg.Digest] = blobOut{d: cfg.Digest, size: int64(len(cfg.Raw)), data: cfg.Raw}
		blobs[man.Digest] = blobOut{d: man.Digest, size: int64(len(man.Raw)), data: man.Raw}
		for _, l := range src.Layers() {
			blobs[l.Digest] = blobOut{d: l.Digest, size: l.Size, from: open, src: l.Digest}
		}
	}
	changed := false
	var kept []ocispec.Descriptor
	for _, d := range idx.Manifests {
		src, ok := si.Entries[d.Digest]
		if !ok {
			changed = true // not saved (an attestation a pull left out)
			continue
		}
		if md := src.Manifest().Descriptor(); md.Digest != d.Digest {
			d.Digest, d.Size, d.MediaType = md.Digest, md.Size, md.MediaType
			changed = true
		}
		kept = append(kept, d)
	}
	if changed {
		idx.Manifests = kept
		if raw, err = json.Marshal(idx); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	d := digest.FromBytes(raw)
	blobs[d] = blobOut{d: d, size: int64(len(raw)), data: raw}
	return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}, nil
}

func uncompressedSize(open blobOpener, d digest.Digest) (int64, error) {
	f, err := open(d)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, _, err := layer.Decompress(f)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	return io.Copy(io.Discard, zr)
}

// tarWriter writes a tar whose headers are made by archive/tar and whose
// data is copied straight to the output, so that a stored blob goes from
// file to file in the kernel (copy_file_range/sendfile) when it can.
type tarWriter struct {
	w   io.Writer
	hdr bytes.Buffer
	err error
}

var epoch = time.Unix(0, 0).UTC()

func newTarWriter(w io.Writer) *tarWriter { return &tarWriter{w: w} }

func (t *tarWriter) header(h *tar.Header) {
	if t.err != nil {
		return
	}
	h.ModTime, h.Uname, h.Gname, h.Format = epoch, "", "", tar.FormatPAX
	if h.Size < 8<<30 {
		h.Format = tar.FormatUSTAR
	}
	t.hdr.Reset()
	tw := tar.NewWriter(&t.hdr)
	if t.err = tw.WriteHeader(h); t.err != nil {
		return
	}
	_, t.err = t.w.Write(t.hdr.Bytes())
}

var zeros [1024]byte

func (t *tarWriter) pad(n int64) {
	if t.err != nil {
		return
	}
	if r := n % 512; r != 0 {
		_, t.err = t.w.Write(zeros[:512-r])
	}
}

func (t *tarWriter) dir(name string) {
	t.header(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755})
}

func (t *tarWriter) file(name string, b []byte) {
	t.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b))})
	if t.err == nil {
		_, t.err = t.w.Write(b)
	}
	t.pad(int64(len(b)))
}

// plainWriter hides a writer's ReadFrom so io.CopyBuffer uses its buffer.
type plainWriter struct{ io.Writer }

func (t *tarWriter) blob(b blobOut) error {
	t.header(&tar.Header{Typeflag: tar.TypeReg, Name: blobPath(b.d), Mode: 0o644, Size: b.size})
	if t.err != nil {
		return t.err
	}
	f, err := b.from(b.src)
	if err != nil {
		return err
	}
	defer f.Close()
	var n int64
	if b.decompress {
		zr, _, err := layer.Decompress(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			return fmt.Errorf("layer %s: %w", b.src, err)
		}
		defer zr.Close()
		n, err = io.CopyBuffer(plainWriter{t.w}, io.LimitReader(zr, b.size+1), make([]byte, 1<<20))
		if err != nil {
			return fmt.Errorf("layer %s: %w", b.src, err)
		}
	} else {
		n, err = io.Copy(t.w, io.LimitReader(f, b.size+1))
		if err != nil {
			return err
		}
	}
	if n != b.size {
		return fmt.Errorf("blob %s: %d bytes, expected %d (the store is damaged: run strata fsck)", b.src, n, b.size)
	}
	t.pad(n)
	return t.err
}

func (t *tarWriter) close() error {
	if t.err == nil {
		_, t.err = t.w.Write(zeros[:])
	}
	return t.err
}

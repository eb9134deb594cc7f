package builder

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

// writeLayer stores the layer tar that fill writes, checked as it goes
// (checked). The tar is produced
// on one goroutine, which also hashes it (the diffID), and compressed,
// hashed again (the blob digest) and written on another, so a big layer
// uses both cores; uncompressed, the digest is the diffID and is hashed
// once. Nothing is visible until the blob is committed and recorded.
func (b *builder) writeLayer(fill func(w io.Writer) error) (*metadata.Layer, error) {
	var content int64
	return b.writeCheckedLayer(checked(fill, &content), &content)
}

// writeCheckedLayer is writeLayer for a fill that holds its entries to
// the layer rules itself: the layer package's diff and tree writers do,
// and set *content to what the layer unpacks to
// (layer.DiffOptions.ContentSize) by the time fill returns.
func (b *builder) writeCheckedLayer(fill func(w io.Writer) error, content *int64) (*metadata.Layer, error) {
	w, err := b.st.NewBlobWriter()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	bw := bufio.NewWriterSize(w, 1<<20)
	zw, err := layer.NewWriter(bw, b.o.Compression, b.level())
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	// Compressed, the diffID is the tar's own hash; uncompressed, the blob
	// is the tar and the content writer's hash is it.
	var tar *layer.Digester
	produced := make(chan error, 1)
	go func() {
		var out io.Writer = pw
		if b.o.Compression != layer.Uncompressed {
			tar = layer.NewDigester()
			out = io.MultiWriter(pw, tar)
		}
		buf := bufio.NewWriterSize(out, 1<<20)
		err := fill(buf)
		if err == nil {
			err = buf.Flush()
		}
		pw.CloseWithError(err)
		produced <- err
	}()
	_, copyErr := io.Copy(zw, pr)
	pr.CloseWithError(copyErr)
	if err := <-produced; err != nil {
		return nil, err
	}
	if copyErr != nil {
		return nil, copyErr
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	d, err := w.Commit("", -1)
	if err != nil {
		return nil, err
	}
	blob := layer.Blob{Digest: d, DiffID: d, Size: w.Size(), UncompressedSize: w.Size(), ContentSize: *content, Compression: b.o.Compression}
	if tar != nil {
		blob.DiffID, blob.UncompressedSize = tar.Digest(), tar.Size()
	}
	rec, err := b.st.IngestLayer(blob, store.LayerMediaType(b.o.Compression))
	if err != nil {
		return nil, fmt.Errorf("record layer: %w", err)
	}
	return &rec, nil
}

// checked makes the tar that fill writes pass the rules every layer
// entering the store passes (layer.CheckWriter): a file named ".wh." in
// a build context or written by RUN would be a whiteout of its directory.
// The check also counts what the layer unpacks to, into *content.
func checked(fill func(io.Writer) error, content *int64) func(io.Writer) error {
	return func(w io.Writer) error {
		cw := layer.NewCheckWriter(w)
		err := fill(cw)
		if cerr := cw.Close(); err == nil {
			err = cerr
		}
		*content = cw.ContentSize()
		return err
	}
}

// level is the compression level: gzip defaults to the fastest (klauspost's
// level 1 runs at about 1 GB/s and stores incompressible blocks as they
// are), zstd to its default.
func (b *builder) level() int {
	if b.o.Level != 0 {
		return b.o.Level
	}
	if b.o.Compression == layer.Gzip {
		return 1
	}
	return 0
}

// keepLayer makes the RUN snapshot id the layer: the tar of its changes is
// hashed (not written) for the diffID, the snapshot is committed under the
// layer's chain ID, and the layer is recorded as kept in that snapshot, so
// a 1 GiB RUN costs one read of its files instead of a second copy of
// them. kept says whether the snapshot became the layer's. A nil layer
// means the snapshot could not be committed (its chain's snapshot exists,
// made by an unpack or another build): the caller writes the blob the
// usual way from the snapshot, which is still there.
func (b *builder) keepLayer(sn snapshot.Snapshotter, id string, below []metadata.Layer, fill func(io.Writer) error, content *int64, exclude []string, unmounted func() error) (*metadata.Layer, bool, error) {
	// The disk flush that Commit needs runs while the tar is hashed.
	dir, err := sn.Dir(id)
	if err != nil {
		return nil, false, err
	}
	synced := make(chan error, 1)
	go func() { synced <- snapshot.SyncFS(dir) }()
	tar := layer.NewDigester()
	bw := bufio.NewWriterSize(tar, 1<<20)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if serr := <-synced; err == nil {
		err = serr
	}
	if uerr := unmounted(); err == nil {
		err = uerr
	}
	if err != nil {
		return nil, false, err
	}
	d, size := tar.Digest(), tar.Size()
	l := metadata.Layer{Digest: d, DiffID: d, Size: size, UncompressedSize: size, ContentSize: *content, MediaType: store.LayerMediaType(layer.Uncompressed)}
	chain := chainID(append(append([]metadata.Layer{}, below...), l)).String()
	if err := sn.Commit(chain, id); err != nil {
		if errors.Is(err, snapshot.ErrExists) && b.st.HasBlob(d) {
			// The same layer, made before: nothing to keep or write.
			if _, err := b.st.LayerRecord(d); err != nil {
				if err := b.st.PutLayerRecord(l); err != nil {
					return nil, false, err
				}
			}
			return &l, false, nil
		}
		return nil, false, nil // written the usual way from the snapshot
	}
	sb := metadata.SnapBlob{Driver: sn.Driver(), Snapshot: chain, Size: size, Exclude: exclude}
	if err := b.st.AddSnapBlob(l, sb); err != nil {
		return nil, false, fmt.Errorf("record layer: %w", err)
	}
	return &l, true, nil
}

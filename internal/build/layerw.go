package build

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// writeLayer stores the layer tar that fill writes. The tar is produced
// on one goroutine, which also hashes it (the diffID), and compressed,
// hashed again (the blob digest) and written on another, so a big layer
// uses both cores; uncompressed, the digest is the diffID and is hashed
// once. Nothing is visible until the blob is committed and recorded.
func (b *builder) writeLayer(fill func(w io.Writer) error) (*metadata.Layer, error) {
	w, err := b.st.Content.NewWriter()
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
	var diffID hash.Hash
	var tarBytes int64
	produced := make(chan error, 1)
	go func() {
		var out io.Writer = pw
		cw := &countWriter{w: out}
		out = cw
		if b.o.Compression != layer.Uncompressed {
			diffID = sha256.New()
			out = io.MultiWriter(cw, diffID)
		}
		buf := bufio.NewWriterSize(out, 1<<20)
		err := fill(buf)
		if err == nil {
			err = buf.Flush()
		}
		tarBytes = cw.n
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
	blob := layer.Blob{Digest: d, DiffID: d, Size: w.Size(), UncompressedSize: tarBytes, Compression: b.o.Compression}
	if diffID != nil {
		blob.DiffID = digest.NewDigest(digest.SHA256, diffID)
	}
	rec, err := b.st.IngestLayer(blob, store.LayerMediaType(b.o.Compression))
	if err != nil {
		return nil, fmt.Errorf("record layer: %w", err)
	}
	return &rec, nil
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

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

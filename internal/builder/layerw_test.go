package builder

import (
	"io"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/store"
)

// TestLayerCompressions: a COPY layer written gzip, zstd or plain is
// recorded with its media type, its blob's size and digest, and the
// diffID and size of the tar inside.
func TestLayerCompressions(t *testing.T) {
	for _, c := range []layer.Compression{layer.Gzip, layer.Zstd, layer.Uncompressed} {
		t.Run(c.String(), func(t *testing.T) {
			e := newEnv(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY . /src/\n", "a.txt": "hello\n", "d/b.txt": "world\n"})
			res, out, err := e.build(Options{Compression: c})
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			im, err := e.st.Image(res.ImageID)
			if err != nil {
				t.Fatal(err)
			}
			l := im.Layers[0]
			if l.MediaType != store.LayerMediaType(c) {
				t.Errorf("media type %s", l.MediaType)
			}
			size, err := e.st.Content.Info(l.Digest)
			if err != nil || size != l.Size {
				t.Errorf("blob %s: %d bytes (%v), record says %d", l.Digest, size, err, l.Size)
			}
			f, err := e.st.Content.Open(l.Digest)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			blob := digest.Canonical.Digester()
			zr, got, err := layer.Decompress(io.TeeReader(f, blob.Hash()))
			if err != nil || got != c {
				t.Fatalf("decompress: %v, compression %v", err, got)
			}
			tar := layer.NewDigester()
			if _, err := io.Copy(tar, zr); err != nil {
				t.Fatal(err)
			}
			if blob.Digest() != l.Digest || tar.Digest() != l.DiffID || tar.Size() != l.UncompressedSize {
				t.Errorf("blob %s diffID %s size %d; record %s %s %d", blob.Digest(), tar.Digest(), tar.Size(), l.Digest, l.DiffID, l.UncompressedSize)
			}
		})
	}
}

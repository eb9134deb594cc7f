package archive_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/archive/archivetest"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func BenchmarkSave(b *testing.B) {
	for _, f := range []archive.Format{archive.DockerArchive, archive.OCIArchive} {
		b.Run(string(f), func(b *testing.B) {
			st := newStore(b)
			im := archivetest.Image(b, st, nil, []metadata.Layer{archivetest.AddLayer(b, st, []testutil.Entry{{Name: "big", Body: string(randBytes(64 << 20))}}, layer.Gzip)}, "bench:1")
			b.SetBytes(im.Size())
			src := storetest.Source(b, st, im)
			for b.Loop() {
				if err := archive.Save(context.Background(), io.Discard, []archive.SaveImage{{Source: src}}, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	st := newStore(b)
	im := archivetest.Image(b, st, nil, []metadata.Layer{archivetest.AddLayer(b, st, []testutil.Entry{{Name: "big", Body: string(randBytes(64 << 20))}}, layer.Uncompressed)}, "bench:1")
	var buf bytes.Buffer
	if err := archive.Save(context.Background(), &buf, []archive.SaveImage{{Source: storetest.Source(b, st, im)}}, archive.DockerArchive); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		b.StopTimer()
		dst := newStore(b)
		b.StartTimer()
		if _, err := archive.Load(dst, bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

func randBytes(n int) []byte {
	data := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(data)
	return data
}

package layer

import (
	"archive/tar"
	"bytes"
	"testing"

	"github.com/strata-dev/strata/internal/content"
)

func BenchmarkIngestPlain256M(b *testing.B) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	data := make([]byte, 256<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	tb := buf.Bytes()
	b.SetBytes(int64(len(tb)))
	for i := 0; i < b.N; i++ {
		cs, err := content.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Ingest(cs, bytes.NewReader(tb), "", -1); err != nil {
			b.Fatal(err)
		}
	}
}

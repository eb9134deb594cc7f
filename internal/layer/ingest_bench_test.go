package layer

import (
	"bytes"
	"testing"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/testutil"
)

func BenchmarkIngestPlain256M(b *testing.B) {
	data := make([]byte, 256<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	tb := testutil.Tar(b, testutil.File("big", string(data)))
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

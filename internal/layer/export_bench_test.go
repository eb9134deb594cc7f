package layer

import (
	"crypto/sha256"
	"os"
	"testing"
)

// BenchmarkWriteDiffFromUpper writes the layer of an overlay upper
// directory given by STRATA_BENCH_UPPER (lowers in STRATA_BENCH_LOWER),
// e.g. the snapshot of bench/build's manyfiles RUN, into one sha256 pass:
// the export a RUN step pays after its command exits.
// bench/floor_bench.sh runs it beside `tar --xattrs -cf - | sha256sum`.
func BenchmarkWriteDiffFromUpper(b *testing.B) {
	upper := os.Getenv("STRATA_BENCH_UPPER")
	if upper == "" {
		b.Skip("STRATA_BENCH_UPPER names no upper directory")
	}
	var lowers []string
	if l := os.Getenv("STRATA_BENCH_LOWER"); l != "" {
		lowers = []string{l}
	}
	for b.Loop() {
		h := sha256.New()
		if err := WriteDiffFromUpper(h, upper, lowers, DiffOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

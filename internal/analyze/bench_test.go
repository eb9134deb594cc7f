package analyze

import (
	"context"
	"os"
	"testing"

	"github.com/strata-dev/strata/internal/archive"
)

// BenchmarkAnalyzeArchive analyses the docker-archive named by
// STRATA_ANALYZE_BENCH (bench/out/manyfiles.tar, say); skipped without it.
func BenchmarkAnalyzeArchive(b *testing.B) {
	p := os.Getenv("STRATA_ANALYZE_BENCH")
	if p == "" {
		b.Skip("STRATA_ANALYZE_BENCH names no archive")
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src, err := archive.OpenImage(p, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Analyze(context.Background(), src, Options{UpTo: -1}); err != nil {
			b.Fatal(err)
		}
		src.Close()
	}
}

package testutil

import (
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// Gunzip returns the uncompressed content of a gzipped fixture file (big
// binary fixtures, such as rpm databases, are kept gzipped).
func Gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

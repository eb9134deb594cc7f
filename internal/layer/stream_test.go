package layer

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/testutil"
)

func compressed(t *testing.T, data []byte, c Compression) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := NewWriter(&b, c, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A Stream yields the tar of any compression, and its diffID covers the
// whole stream, the padding after the end marker that nobody reads too.
func TestStreamDiffID(t *testing.T) {
	tarball := testutil.Tar(t, testutil.File("a", strings.Repeat("x", 3<<20)), testutil.File("b", "b"))
	tarball = append(tarball, make([]byte, 10240)...) // padding, as some writers leave
	for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			s := NewStream(bytes.NewReader(compressed(t, tarball, c)))
			defer s.Close()
			names := readTarNames(t, s)
			d, n, err := s.Finish()
			if err != nil || d != digest.FromBytes(tarball) || n != int64(len(tarball)) {
				t.Fatalf("Finish: %s %d %v; want %s %d", d, n, err, digest.FromBytes(tarball), len(tarball))
			}
			if strings.Join(names, ",") != "0 a,0 b" {
				t.Fatalf("entries %v", names)
			}
		})
	}
}

// A damaged blob is an error of Finish, and a Stream closed before its end
// stops its goroutine.
func TestStreamErrors(t *testing.T) {
	tarball := testutil.Tar(t, testutil.File("a", strings.Repeat("x", 3<<20)))
	gz := compressed(t, tarball, Gzip)
	cut := NewStream(bytes.NewReader(gz[:len(gz)/2]))
	if _, _, err := cut.Finish(); err == nil {
		t.Fatal("a truncated gzip stream finished without error")
	}
	cut.Close()

	early := NewStream(bytes.NewReader(gz))
	if _, err := io.ReadFull(early, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	early.Close() // hangs if the decompressing goroutine is left blocked
}

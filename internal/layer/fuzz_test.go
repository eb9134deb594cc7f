package layer

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/strata-dev/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// FuzzApply feeds arbitrary tars to Apply: whatever they hold, nothing
// outside the root changes, and what Apply accepts Check accepts too.
func FuzzApply(f *testing.F) {
	for _, tc := range breakoutCases {
		f.Add(testutil.Tar(f, tc.ents...))
	}
	scratch := fuzzScratch(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		parent, root := breakoutParentIn(t, scratch)
		host := []string{"/etc/passwd"}
		before := outside(t, parent, host)
		// A few bytes can declare a sparse file of exabytes: bound the time.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := Apply(ctx, root, bytes.NewReader(data), ApplyOptions{})
		if d := diffSnapshots(before, outside(t, parent, host)); len(d) > 0 {
			t.Fatalf("outside the root changed (Apply: %v):\n%s", err, strings.Join(d, "\n"))
		}
		if err == nil {
			if _, cerr := Check(bytes.NewReader(data)); cerr != nil && Detect(data) == Uncompressed {
				t.Fatalf("Apply accepted what Check refuses: %v", cerr)
			}
		}
	})
}

// FuzzCheck feeds arbitrary streams to Check: it never panics, and on an
// uncompressed stream its diffID is the digest of the bytes.
func FuzzCheck(f *testing.F) {
	tarball := testutil.Tar(f, testutil.Dir("a/"), testutil.File("a/b", "hello"), testutil.Symlink("c", "/a/b"))
	f.Add(tarball)
	for _, c := range []Compression{Gzip, Zstd} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, c, 0)
		if err != nil {
			f.Fatal(err)
		}
		w.Write(tarball)
		w.Close()
		f.Add(buf.Bytes())
	}
	f.Add(testutil.Tar(f, testutil.File("../x", "x")))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Check(bytes.NewReader(data))
		if err != nil || b.Compression != Uncompressed {
			return
		}
		if b.DiffID != digest.FromBytes(data) || b.UncompressedSize != int64(len(data)) {
			t.Fatalf("diffID %s size %d for %d bytes", b.DiffID, b.UncompressedSize, len(data))
		}
	})
}

// fuzzScratch is where FuzzApply extracts: a small tmpfs when it can be
// mounted, which bounds what an input can fill and keeps the fuzzer off
// the disk; the test's temp dir otherwise.
func fuzzScratch(f *testing.F) string {
	dir := f.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		return dir
	}
	f.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

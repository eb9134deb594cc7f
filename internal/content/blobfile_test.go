package content

import (
	"bytes"
	"math/rand"
	"os"
	"testing"

	"github.com/opencontainers/go-digest"
)

// Whatever the sizes and alignment of the writes (whole aligned blocks
// written directly, odd pieces staged, a tail that is not a block), the
// stored blob holds exactly the bytes written, in order.
func TestWriterWritePatterns(t *testing.T) {
	const mib = 1 << 20
	for _, pieces := range [][]int{
		nil,
		{100},
		{mib, mib, mib},    // whole blocks
		{mib, mib, 12345},  // and a tail
		{3*mib + 7},        // more than the blocks in flight, in one write
		{10, mib, 2 * mib}, // blocks across writes
		{7, 4096, 65537, mib - 1, mib + 1, 3, 2*mib + 4095},
		{writeDepth * blockSize * 3}, // the blocks reused
	} {
		total := 0
		for _, n := range pieces {
			total += n
		}
		data := make([]byte, total)
		rand.New(rand.NewSource(1)).Read(data)
		s := newStore(t)
		w, err := s.NewWriter()
		if err != nil {
			t.Fatal(err)
		}
		off := 0
		for _, n := range pieces {
			if m, err := w.Write(data[off : off+n]); err != nil || m != n {
				t.Fatalf("%v: Write = %d, %v", pieces, m, err)
			}
			off += n
		}
		d, err := w.Commit(digest.FromBytes(data), int64(total))
		if err != nil {
			t.Fatalf("%v: %v", pieces, err)
		}
		got, err := os.ReadFile(s.Path(d))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%v: stored %d bytes (%v), want %d", pieces, len(got), err, total)
		}
		if left := ingestFiles(t, s); len(left) != 0 {
			t.Fatalf("%v: temporary files left: %v", pieces, left)
		}
	}
}

// A file that refuses O_DIRECT is written through the page cache.
func TestWriterWithoutDirect(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := &blobFile{f: f}
	p := make([]byte, 3*blockSize+5)
	if n, err := b.Write(p); err != nil || n != len(p) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	b.Sync() // fsync of /dev/null: refused or not, by kernel version
	if !b.buffered || b.off != int64(len(p)) {
		t.Fatalf("buffered %v, wrote %d bytes; want buffered, %d", b.buffered, b.off, len(p))
	}
}

// A write that fails (a full disk) fails the blob's later writes or its
// Sync, and discarding it after leaves no goroutine writing.
func TestWriterWriteError(t *testing.T) {
	f, err := os.Open(os.DevNull) // read-only: every write fails
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := &blobFile{f: f}
	var werr error
	for i := 0; i < 2*writeDepth && werr == nil; i++ {
		_, werr = b.Write(make([]byte, blockSize))
	}
	if serr := b.Sync(); werr == nil && serr == nil {
		t.Fatal("writes to a read-only file succeeded")
	}
	b.release()
}

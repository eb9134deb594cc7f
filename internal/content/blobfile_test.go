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
	cases := []struct {
		name      string
		pieces    []int
		unaligned bool // the pieces' memory is not aligned for O_DIRECT
	}{
		{"empty", nil, false},
		{"small", []int{100}, false},
		{"aligned blocks", []int{mib, mib, mib}, false},
		{"aligned blocks and a tail", []int{mib, mib, 12345}, false},
		{"big aligned write with a tail", []int{3*mib + 7}, false},
		{"unaligned memory", []int{mib, mib, 100}, true},
		{"small then aligned", []int{10, mib, 2 * mib}, false},
		{"odd sizes", []int{7, 4096, 65537, mib - 1, mib + 1, 3, 2*mib + 4095}, false},
		{"exactly a stage, unaligned", []int{stageSize}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			total := 0
			for _, n := range c.pieces {
				total += n
			}
			data := make([]byte, total)
			rand.New(rand.NewSource(1)).Read(data)
			s := newStore(t)
			w, err := s.NewWriter()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			off := 0
			for _, n := range c.pieces {
				if m, err := w.Write(alignedCopy(data[off:off+n], !c.unaligned)); err != nil || m != n {
					t.Fatalf("Write = %d, %v", m, err)
				}
				off += n
			}
			d, err := w.Commit(digest.FromBytes(data), int64(total))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(s.Path(d))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("stored %d bytes (%v), want %d", len(got), err, total)
			}
			if left := ingestFiles(t, s); len(left) != 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}

// alignedCopy returns p's bytes at an address aligned for O_DIRECT when
// wantAligned, else at one that is not.
func alignedCopy(p []byte, wantAligned bool) []byte {
	b := make([]byte, len(p)+2*directAlign)
	skip := 0
	for aligned(b[skip:]) != wantAligned {
		skip++
	}
	return append(b[skip:skip], p...)
}

// A file that refuses O_DIRECT is written through the page cache.
func TestWriterWithoutDirect(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := &blobFile{f: f}
	p := alignedCopy(make([]byte, 2*stageSize+5), true)
	if n, err := b.Write(p); err != nil || n != len(p) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	b.Sync() // fsync of /dev/null: refused or not, by kernel version
	if !b.buffered || b.off != int64(len(p)) {
		t.Fatalf("buffered %v, wrote %d bytes; want buffered, %d", b.buffered, b.off, len(p))
	}
}

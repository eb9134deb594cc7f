package fanout

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand"
	"slices"
	"testing"
	"testing/iotest"
)

type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		return 0, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterGivesEveryWriterEveryByte(t *testing.T) {
	data := make([]byte, 5<<20+123)
	rand.New(rand.NewSource(1)).Read(data)
	want := sha256.Sum256(data)
	for _, chunk := range []int{1000, MinChunk, 1 << 20} {
		var a, b bytes.Buffer
		h := sha256.New()
		f := New(&a, &b, h)
		if _, err := io.CopyBuffer(f, bytes.NewReader(data), make([]byte, chunk)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if !bytes.Equal(a.Bytes(), data) || !bytes.Equal(b.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("chunk %d: a writer missed bytes", chunk)
		}
	}
}

func TestWriterStopsAtFirstError(t *testing.T) {
	boom := errors.New("disk full")
	for _, failing := range []int{0, 1} {
		ws := []io.Writer{io.Discard, io.Discard}
		ws[failing] = &failAfter{n: 2 << 20, err: boom}
		f := New(ws...)
		_, err := io.CopyBuffer(f, bytes.NewReader(make([]byte, 8<<20)), make([]byte, 1<<20))
		f.Close()
		if !errors.Is(err, boom) {
			t.Fatalf("writer %d failing: got %v", failing, err)
		}
		if _, err := f.Write(make([]byte, 10)); !errors.Is(err, boom) {
			t.Fatalf("a write after the error: %v", err)
		}
	}
}

// oneByteReader yields its data a byte at a time, as a slow network does.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 1)]) }

func TestCopyFillsChunks(t *testing.T) {
	data := make([]byte, 300<<10+7)
	rand.New(rand.NewSource(2)).Read(data)
	var sizes []int
	rec := writerFunc(func(p []byte) (int, error) { sizes = append(sizes, len(p)); return len(p), nil })
	var got bytes.Buffer
	f := New(rec, &got)
	defer f.Close()
	n, err := Copy(f, oneByteReader{bytes.NewReader(data)}, make([]byte, 200<<10))
	if err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("copied %d, %v", n, err)
	}
	if want := []int{100 << 10, 100 << 10, 100 << 10, 7}; !slices.Equal(sizes, want) {
		t.Fatalf("chunks %v, want %v", sizes, want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A reader's own error reaches the caller after the bytes before it, and
// io.ErrUnexpectedEOF (a truncated tar entry) is an error, not an end.
func TestCopyPassesReadErrors(t *testing.T) {
	for _, rerr := range []error{io.ErrUnexpectedEOF, errors.New("connection reset")} {
		var got bytes.Buffer
		f := New(&got)
		r := io.MultiReader(bytes.NewReader(make([]byte, 300<<10)), iotest.ErrReader(rerr))
		n, err := Copy(f, r, make([]byte, 256<<10))
		f.Close()
		if !errors.Is(err, rerr) || n != 300<<10 || got.Len() != 300<<10 {
			t.Fatalf("%v: copied %d (%d written), %v", rerr, n, got.Len(), err)
		}
	}
}

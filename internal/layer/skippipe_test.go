package layer

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testutil"
)

// checkTarThrough runs CheckTar on data written in pieces of chunk bytes
// through a pipe (skipPipe, or io.Pipe for reference).
func checkTarThrough(data []byte, chunk int, skip bool) (int64, error) {
	var r io.Reader
	var w io.Writer
	var closeW func(error)
	if skip {
		pr, pw := newSkipPipe()
		r, w, closeW = pr, pw, func(err error) { pw.CloseWithError(err) }
	} else {
		pr, pw := io.Pipe()
		r, w, closeW = pr, pw, func(err error) { pw.CloseWithError(err) }
	}
	done := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = CheckTar(r)
		if c, ok := r.(interface{ CloseWithError(error) error }); ok {
			c.CloseWithError(err)
		}
		done <- err
	}()
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if _, err := w.Write(data[off:end]); err != nil {
			break
		}
	}
	closeW(nil)
	return n, <-done
}

// FuzzSkipPipe: CheckTar through a skipPipe, which it skips file contents
// in without copying them, says what it says through io.Pipe, for any
// stream cut into any pieces.
func FuzzSkipPipe(f *testing.F) {
	big := string(bytes.Repeat([]byte("x"), 20_000))
	f.Add(testutil.Tar(f, testutil.Dir("a/"), testutil.File("a/b", "hello"), testutil.File("a/big", big)), uint16(1000))
	f.Add(testutil.Tar(f, testutil.File("a", big), testutil.File("b", "")), uint16(512))
	f.Add(testutil.Tar(f, testutil.File("../x", "x")), uint16(7))
	f.Add([]byte("not a tar"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		c := int(chunk)%4096 + 1
		if len(data) > 8<<10 {
			// Tiny pieces of a long stream: only slow (a hand-off each).
			c = max(c, 512)
		}
		var want, got int64
		var werr, gerr error
		done := make(chan struct{})
		go func() {
			want, werr = checkTarThrough(data, c, false)
			got, gerr = checkTarThrough(data, c, true)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("hung: %d bytes in pieces of %d", len(data), c)
		}
		if got != want || (gerr == nil) != (werr == nil) {
			t.Fatalf("pieces of %d: skipPipe %d, %v; io.Pipe %d, %v", c, got, gerr, want, werr)
		}
	})
}

// TestSkipPipeTruncated: a tar cut inside a file's content is refused,
// the cut found by the skip.
func TestSkipPipeTruncated(t *testing.T) {
	tarball := testutil.Tar(t, testutil.File("a", string(bytes.Repeat([]byte("y"), 50_000))), testutil.File("b", "z"))
	for _, cut := range []int{600, 512 + 25_000, 512 + 50_000 - 1} {
		if _, err := checkTarThrough(tarball[:cut], 4096, true); err == nil {
			t.Errorf("a tar cut at %d passed", cut)
		}
	}
	if n, err := checkTarThrough(tarball, 4096, true); err != nil || n != 50_001 {
		t.Errorf("whole tar: %d, %v; want 50001 bytes of content", n, err)
	}
}

// TestSkipPipeClose: the reader's error reaches a waiting writer, the
// writer's reaches the reader after what was written, and a skip past the
// end stops there.
func TestSkipPipeClose(t *testing.T) {
	refused := errors.New("refused")
	pr, pw := newSkipPipe()
	go func() {
		buf := make([]byte, 3)
		io.ReadFull(pr, buf)
		pr.CloseWithError(refused)
	}()
	if _, err := pw.Write([]byte("hello")); !errors.Is(err, refused) {
		t.Errorf("write into a pipe its reader closed part way: %v, want %v", err, refused)
	}
	if _, err := pw.Write([]byte("more")); !errors.Is(err, refused) {
		t.Errorf("write after the reader's close: %v", err)
	}

	broken := errors.New("connection reset")
	pr, pw = newSkipPipe()
	go func() {
		pw.Write([]byte("0123456789"))
		pw.CloseWithError(broken)
	}()
	if pos, err := pr.Seek(4, io.SeekCurrent); pos != 4 || err != nil {
		t.Fatalf("skip 4: %d, %v", pos, err)
	}
	if pos, err := pr.Seek(0, io.SeekCurrent); pos != 4 || err != nil {
		t.Fatalf("where: %d, %v", pos, err)
	}
	if _, err := pr.Seek(-1, io.SeekCurrent); err == nil {
		t.Error("a skip backwards was taken")
	}
	rest, err := io.ReadAll(pr)
	if string(rest) != "456789" || !errors.Is(err, broken) {
		t.Errorf("rest %q, %v; want 456789 and %v", rest, err, broken)
	}
	if pos, err := pr.Seek(100, io.SeekCurrent); pos != 10 || err != nil {
		t.Errorf("skip past the end: %d, %v; want to stop at 10", pos, err)
	}
}

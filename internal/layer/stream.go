package layer

import (
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/fanout"
)

// Stream is the uncompressed tar of a layer blob, decompressed and hashed
// on goroutines of their own while its reader (Apply) writes files: read
// inline, the decompression alone took a third of the first run of a
// pulled debian image, with one core idle. It is an io.ReadSeeker that
// seeks forward only, so archive/tar skips what it does not read without
// a copy.
type Stream struct {
	pr   *skipPipeReader
	done chan streamResult
}

type streamResult struct {
	diffID digest.Digest
	size   int64
	err    error
}

// NewStream starts decompressing r (any compression Detect knows).
func NewStream(r io.Reader) *Stream {
	pr, pw := newSkipPipe()
	s := &Stream{pr: pr, done: make(chan streamResult, 1)}
	go func() {
		var res streamResult
		defer func() { s.done <- res }()
		dr, _, err := Decompress(r)
		if err != nil {
			res.err = err
			pw.CloseWithError(err)
			return
		}
		defer dr.Close()
		h := digest.SHA256.Digester()
		out := fanout.New(h.Hash(), pw)
		res.size, res.err = fanout.Copy(out, dr, make([]byte, 2<<20))
		out.Close()
		pw.CloseWithError(res.err)
		res.diffID = h.Digest()
	}()
	return s
}

func (s *Stream) Read(p []byte) (int, error) { return s.pr.Read(p) }

// Seek skips forward (io.SeekCurrent, offset >= 0) only.
func (s *Stream) Seek(offset int64, whence int) (int64, error) {
	return s.pr.Seek(offset, whence)
}

// Finish reads the stream to its end (a tar's padding after its end
// marker counts in its diffID) and returns the diffID and size of all of
// it, or the first error of reading or decompressing it.
func (s *Stream) Finish() (digest.Digest, int64, error) {
	s.pr.Seek(1<<62, io.SeekCurrent)
	res := <-s.done
	s.done <- res // Close may wait for it too
	return res.diffID, res.size, res.err
}

// Close stops the decompression, read to its end or not, and waits for
// it. It may follow Finish.
func (s *Stream) Close() error {
	s.pr.CloseWithError(nil)
	res := <-s.done
	s.done <- res
	return nil
}

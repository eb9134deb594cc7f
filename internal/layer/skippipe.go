package layer

import (
	"errors"
	"io"
	"sync"
)

// skipPipe is an in-memory pipe, as io.Pipe, for a reader that skips most
// of what it is given: a tar check reads each entry's header and seeks
// over its content (archive/tar does when its reader is an io.Seeker).
// A skip costs no copy, and the reader takes each write as one piece
// where io.Pipe handed the tar reader's 8 KiB discards over one by one,
// each a switch between the two goroutines (128 per MiB, which the
// writer waited out before its next chunk).
//
// As with io.Pipe, Write returns once the reader is done with all of p.
type skipPipe struct {
	chunks   chan []byte   // a write's bytes, handed to the reader
	consumed chan struct{} // the reader is done with the last chunk
	closed   chan struct{} // either side closed
	once     sync.Once

	mu   sync.Mutex
	werr error // the writer's close: io.EOF or its error
	rerr error // the reader's close

	// The reader's, not shared:
	cur []byte // what is left of the chunk being read
	pos int64  // bytes read or skipped
	eof error  // set once the writer's close was seen
}

func newSkipPipe() (*skipPipeReader, *skipPipeWriter) {
	p := &skipPipe{chunks: make(chan []byte), consumed: make(chan struct{}), closed: make(chan struct{})}
	return &skipPipeReader{p}, &skipPipeWriter{p}
}

type skipPipeReader struct{ p *skipPipe }
type skipPipeWriter struct{ p *skipPipe }

func (w *skipPipeWriter) Write(b []byte) (int, error) {
	p := w.p
	if err := p.closedErr(); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	select {
	case p.chunks <- b:
	case <-p.closed:
		return 0, p.closedErr()
	}
	select {
	case <-p.consumed:
		return len(b), nil
	case <-p.closed:
		// The reader gave up part way: how much it took is unknown.
		return 0, p.closedErr()
	}
}

// CloseWithError ends the stream: the reader gets err (io.EOF for nil)
// once it has read everything written before.
func (w *skipPipeWriter) CloseWithError(err error) error {
	if err == nil {
		err = io.EOF
	}
	w.p.close(&w.p.werr, err)
	return nil
}

func (w *skipPipeWriter) Close() error { return w.CloseWithError(nil) }

// CloseWithError stops the writer: its writes fail with err
// (io.ErrClosedPipe for nil).
func (r *skipPipeReader) CloseWithError(err error) error {
	if err == nil {
		err = io.ErrClosedPipe
	}
	r.p.close(&r.p.rerr, err)
	return nil
}

func (r *skipPipeReader) Close() error { return r.CloseWithError(nil) }

func (p *skipPipe) close(side *error, err error) {
	p.mu.Lock()
	if *side == nil {
		*side = err
	}
	p.mu.Unlock()
	p.once.Do(func() { close(p.closed) })
}

// closedErr is what a write gets once a side closed: the reader's error,
// else io.ErrClosedPipe (a write after the writer's own close).
func (p *skipPipe) closedErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.rerr != nil:
		return p.rerr
	case p.werr != nil:
		return io.ErrClosedPipe
	}
	return nil
}

// next makes cur the next chunk, or returns the writer's close.
func (p *skipPipe) next() error {
	if p.eof != nil {
		return p.eof
	}
	select {
	case b := <-p.chunks:
		p.cur = b
		return nil
	case <-p.closed:
	}
	// A chunk sent just before the close is still to be read.
	select {
	case b := <-p.chunks:
		p.cur = b
		return nil
	default:
	}
	p.mu.Lock()
	err := p.rerr
	if err == nil {
		err = p.werr
	}
	p.mu.Unlock()
	p.eof = err
	return err
}

// took records n bytes of cur done with, and tells the writer when the
// chunk is.
func (p *skipPipe) took(n int) {
	p.cur = p.cur[n:]
	p.pos += int64(n)
	if len(p.cur) == 0 {
		select {
		case p.consumed <- struct{}{}:
		case <-p.closed:
		}
	}
}

func (r *skipPipeReader) Read(b []byte) (int, error) {
	p := r.p
	if len(p.cur) == 0 {
		if err := p.next(); err != nil {
			return 0, err
		}
	}
	n := copy(b, p.cur)
	p.took(n)
	return n, nil
}

// Seek moves on from the current position only (io.SeekCurrent, offset
// >= 0), without copying; past the end of the stream it stops there and
// the next Read says so.
func (r *skipPipeReader) Seek(offset int64, whence int) (int64, error) {
	p := r.p
	if whence != io.SeekCurrent || offset < 0 {
		return p.pos, errors.New("layer stream: can only skip forward")
	}
	for offset > 0 {
		if len(p.cur) == 0 {
			if p.next() != nil {
				break
			}
		}
		n := len(p.cur)
		if int64(n) > offset {
			n = int(offset)
		}
		p.took(n)
		offset -= int64(n)
	}
	return p.pos, nil
}

// Package fanout writes one stream to several writers at once, each on a
// goroutine of its own: storing a layer writes the blob file, hashes it and
// checks (or decompresses and hashes) its tar, and io.MultiWriter would do
// those one after the other on one core. Copy also reads the next chunk
// while the writers take the last one.
package fanout

import (
	"io"
	"sync"
)

// Writer passes each Write to all its writers concurrently and returns
// when all are done with it (so the caller may reuse the slice, as
// io.Writer requires, and no copy is made). The first error wins, and
// the writes after it fail with it too.
type Writer struct {
	workers []*worker
	pending bool // a chunk was started and not waited for
	err     error
	once    sync.Once
}

type worker struct {
	w    io.Writer
	in   chan []byte
	done chan error
}

// MinChunk is the size under which a Write is passed to the writers one
// after the other on the caller's goroutine: for small chunks the
// hand-off would cost more than it saves.
const MinChunk = 64 << 10

// New starts a Writer on ws. Close stops its goroutines.
func New(ws ...io.Writer) *Writer {
	f := &Writer{}
	for _, w := range ws {
		wk := &worker{w: w, in: make(chan []byte), done: make(chan error)}
		go wk.run()
		f.workers = append(f.workers, wk)
	}
	return f
}

func (wk *worker) run() {
	for p := range wk.in {
		wk.done <- writeAll(wk.w, p)
	}
}

func writeAll(w io.Writer, p []byte) error {
	n, err := w.Write(p)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	return err
}

func (f *Writer) Write(p []byte) (int, error) {
	if len(p) < MinChunk {
		if f.err == nil {
			for _, wk := range f.workers {
				if err := writeAll(wk.w, p); err != nil {
					f.err = err
					break
				}
			}
		}
	} else {
		f.start(p)
		f.wait()
	}
	if f.err != nil {
		return 0, f.err
	}
	return len(p), nil
}

// start hands p to every writer; p must not change until wait returns.
func (f *Writer) start(p []byte) {
	if f.err != nil {
		return
	}
	for _, wk := range f.workers {
		wk.in <- p
	}
	f.pending = true
}

// wait waits for the chunk start handed out.
func (f *Writer) wait() error {
	if f.pending {
		f.pending = false
		for _, wk := range f.workers {
			if err := <-wk.done; f.err == nil {
				f.err = err
			}
		}
	}
	return f.err
}

// Close stops the goroutines; the writers are not closed. It may be
// called more than once.
func (f *Writer) Close() error {
	f.once.Do(func() {
		f.wait()
		for _, wk := range f.workers {
			close(wk.in)
		}
	})
	return nil
}

// Copy copies r to f in chunks of half of buf, each filled before it is
// written (a network body yields a few KiB per read, and small chunks
// would not be spread over the cores), reading the next chunk into the
// other half while the writers take the last. It returns the bytes copied
// and the first error of either side.
func Copy(f *Writer, r io.Reader, buf []byte) (int64, error) {
	half := [2][]byte{buf[:len(buf)/2], buf[len(buf)/2:]}
	var n int64
	for i := 0; ; i ^= 1 {
		m, rerr := fill(r, half[i])
		if werr := f.wait(); werr != nil {
			return n, werr
		}
		if m > 0 {
			if m < MinChunk {
				if _, err := f.Write(half[i][:m]); err != nil {
					return n, err
				}
			} else {
				f.start(half[i][:m])
			}
			n += int64(m)
		}
		switch rerr {
		case nil:
		case io.EOF:
			return n, f.wait()
		default:
			f.wait()
			return n, rerr
		}
	}
}

// fill reads into buf until it is full or r ends. Unlike io.ReadFull it
// passes r's own io.ErrUnexpectedEOF on (a truncated tar entry says so),
// and gives io.EOF for the end of r, even after a partial chunk.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

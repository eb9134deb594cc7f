//lint:file-ignore ST1005 docker's words, which scripts match

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// defaultDetachKeys is docker's ctrl-p,ctrl-q.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// errDetached is what docker's client prints when its detach keys were
// read (and exits 1).
var errDetached = errors.New("read escape sequence")

// parseDetachKeys reads docker's --detach-keys: keys separated by commas,
// each a single character or ctrl-X with X one of a-z @ [ \ ] ^ _.
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				out = append(out, c-'A'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, fmt.Errorf("Invalid detach keys (%s) provided", s)
			}
		default:
			return nil, fmt.Errorf("Invalid detach keys (%s) provided", s)
		}
	}
	return out, nil
}

// escapeReader passes its input on until the detach keys come in a row:
// then it calls detach and ends. Bytes that start the sequence are held
// back until the sequence breaks, then passed on (as docker's escape
// proxy).
type escapeReader struct {
	r       io.Reader
	keys    []byte
	detach  func()
	matched int // keys[:matched] were read last and are held back
	out     []byte
	hold    []byte // scan's scratch
	buf     []byte
	err     error // the input's end, or io.EOF after the keys
}

func (e *escapeReader) Read(p []byte) (int, error) {
	for len(e.out) == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if len(e.buf) < len(p) {
			e.buf = make([]byte, len(p))
		}
		n, err := e.r.Read(e.buf[:len(p)])
		e.scan(e.buf[:n])
		if err != nil && e.err == nil {
			// The input ended inside a sequence: what was held goes on.
			e.out = append(e.out, e.keys[:e.matched]...)
			e.matched, e.err = 0, err
		}
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	return n, nil
}

// scan moves b to out, holding back the longest end of what was read
// that starts the sequence (so "0001" holds "001" for keys "001"), and
// ends at a complete one.
func (e *escapeReader) scan(b []byte) {
	for _, c := range b {
		e.hold = append(append(e.hold[:0], e.keys[:e.matched]...), c)
		n := len(e.hold)
		for n > 0 && !bytes.Equal(e.hold[len(e.hold)-n:], e.keys[:n]) {
			n--
		}
		e.out = append(e.out, e.hold[:len(e.hold)-n]...)
		e.matched = n
		if n == len(e.keys) {
			e.matched, e.err = 0, io.EOF
			e.detach()
			return
		}
	}
}

// rawTerminal puts the terminal in raw mode, so that each key goes to the
// container's terminal as typed, and calls resize with its size now and
// on each SIGWINCH. restore undoes both.
func rawTerminal(f *os.File, resize func(rows, cols uint16)) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	sizeNow := func() {
		if ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ); err == nil && ws.Row > 0 && ws.Col > 0 {
			resize(ws.Row, ws.Col)
		}
	}
	sizeNow()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				sizeNow()
			case <-stop:
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(stop)
		term.Restore(fd, old)
	}, nil
}

package executor

import (
	"fmt"
	"io"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ptyRelay stands in for a terminal the caller does not have: with -t,
// the runtime makes the container's terminal and joins it to its own
// stdin, which must be a terminal (it sets it raw). When the caller's
// stdin is not one (a pipe, /dev/null, a file: `run -t` from a script or
// a detached container's logs), the runtime gets the slave side of a
// pseudo-terminal made here, and the relay copies the master side to the
// caller's stdout and the caller's stdin to it, as docker's daemon does
// with the terminal it makes for every -t container.
type ptyRelay struct {
	master, slave *os.File
	copied        chan struct{}
}

// needsPty tells whether a -t process with stdin in needs a relay.
func needsPty(in io.Reader) bool {
	f, ok := in.(*os.File)
	return !ok || !term.IsTerminal(int(f.Fd()))
}

// consoleSize is the size of the terminal in is, nil if it is none.
func consoleSize(in io.Reader) *specs.Box {
	f, ok := in.(*os.File)
	if !ok {
		return nil
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row == 0 || ws.Col == 0 {
		return nil
	}
	return &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
}

// newPtyRelay opens a pseudo-terminal whose slave the runtime gets as its
// stdin, stdout and stderr.
func newPtyRelay() (*ptyRelay, error) {
	master, slave, err := OpenPty()
	if err != nil {
		return nil, fmt.Errorf("a terminal for -t: %w", err)
	}
	return &ptyRelay{master: master, slave: slave, copied: make(chan struct{})}, nil
}

// OpenPty opens a new pseudo-terminal: its master, and its slave (not made
// the caller's controlling terminal).
func OpenPty() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// start copies once the runtime holds the slave: the terminal's output to
// s.Stdout until every holder of the slave is gone (a terminal has one
// stream: docker's -t merges stderr too), and s.Stdin (if any) to it.
// A nil relay does nothing.
func (p *ptyRelay) start(s Stdio) {
	if p == nil {
		return
	}
	p.slave.Close()
	out := s.Stdout
	if out == nil {
		out = io.Discard
	}
	go func() {
		// Reading the master ends with EIO when the last slave closes.
		io.Copy(out, p.master)
		close(p.copied)
	}()
	if s.Stdin != nil {
		go io.Copy(p.master, s.Stdin)
	}
}

// wait waits for the terminal's output to be copied, then closes it.
func (p *ptyRelay) wait() {
	if p == nil {
		return
	}
	<-p.copied
	p.master.Close()
}

// abort closes a relay whose runtime did not start.
func (p *ptyRelay) abort() {
	if p != nil {
		p.slave.Close()
		p.master.Close()
	}
}

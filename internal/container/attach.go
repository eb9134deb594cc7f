//lint:file-ignore ST1005 docker's words, which scripts match

package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Attach streams what a running container writes from now on (its log,
// which the monitor writes) to emit until the container exits or ctx
// ends, and returns its exit code (-1 when ctx ended first). stdin, when
// given, is copied to the container's stdin if it was made with -i.
func (m *Manager) Attach(ctx context.Context, r *Record, stdin io.Reader, emit func(LogEntry) error) (int, error) {
	if m.State(r.ID).Status != Running {
		return 0, errors.New("You cannot attach to a stopped container, start it first")
	}
	// What it writes from now on, also what it answers to the input
	// before the log is first read.
	since := time.Now()
	if stdin != nil && r.Config.OpenStdin {
		w, err := openStdinWriter(m.stdinPath(r.ID))
		if err != nil {
			return 0, err
		}
		go func() {
			defer w.Close()
			io.Copy(w, stdin)
		}()
	}
	m.event(r, "attach")
	if err := m.Logs(ctx, r, LogOptions{Follow: true, Tail: -1, Since: since}, emit); err != nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return -1, nil
	}
	return m.Wait(r)
}

func (m *Manager) stdinPath(id string) string { return filepath.Join(m.Dir(id), "stdin") }

// detachedStdin is a detached container's stdin: /dev/null, or for one
// made with -i a FIFO in its directory that attach writes to. The monitor
// holds it open for reading and writing, so the container's stdin stays
// open when an attach ends, as docker keeps it (no StdinOnce).
func (m *Manager) detachedStdin(r *Record) (*os.File, error) {
	if !r.Config.OpenStdin {
		return os.Open(os.DevNull)
	}
	p := m.stdinPath(r.ID)
	os.Remove(p)
	if err := unix.Mkfifo(p, 0o600); err != nil {
		return nil, err
	}
	return os.OpenFile(p, os.O_RDWR, 0)
}

// openStdinWriter opens the FIFO of a running container's stdin. Without
// its monitor (no reader) the open fails at once instead of waiting.
func openStdinWriter(p string) (*os.File, error) {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("the container's stdin: %w", err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), p), nil
}

// ResizeTerminal gives a running -t container's terminal rows x cols, as
// docker's attach does with the size of the terminal it runs in. The
// terminal is the one its runtime made (in the container's own devpts);
// it is reopened through its first process's stdin, and the kernel tells
// the process group in its foreground with SIGWINCH.
func (m *Manager) ResizeTerminal(r *Record, rows, cols uint16) error {
	if !r.Config.Tty {
		return nil
	}
	pid := m.Pid(r)
	if pid <= 0 {
		return errors.New("the container is not running")
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/fd/0", pid), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("the container's terminal: %w", err)
	}
	defer unix.Close(fd)
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return fmt.Errorf("the container's stdin is not a terminal: %w", err)
	}
	return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

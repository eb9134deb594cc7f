package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A container's output is kept as docker's json-file log driver keeps it:
// one JSON object per line of output, with its stream and the time it
// came, so that logs gives stdout and stderr back apart, with
// timestamps, a tail or a time window. A line without its newline yet
// (the container's last output, or a long one) is written as it is.

// LogEntry is one line of a container's output.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"` // stdout or stderr
	Time   time.Time `json:"time"`
}

// logPath is the log of a container: what it wrote in every run,
// detached or not.
func (m *Manager) logPath(id string) string { return filepath.Join(m.Dir(id), "log.json") }

// legacyLogPath is where detached containers' raw output went before
// there was log.json; still read for containers made then.
func (m *Manager) legacyLogPath(id string) string { return filepath.Join(m.Dir(id), "container.log") }

// logFile appends entries to a container's log; its streams share it.
type logFile struct {
	mu sync.Mutex
	f  *os.File
}

func (m *Manager) openLog(id string) (*logFile, error) {
	f, err := os.OpenFile(m.logPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &logFile{f: f}, nil
}

func (l *logFile) write(stream string, line []byte) error {
	raw, err := json.Marshal(LogEntry{Log: string(line), Stream: stream, Time: time.Now().UTC()})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.f.Write(append(raw, '\n'))
	return err
}

func (l *logFile) Close() error { return l.f.Close() }

// stream is an io.WriteCloser for one stream: complete lines become
// entries as they come, the rest on Close.
func (l *logFile) stream(name string) *logStream { return &logStream{l: l, name: name} }

type logStream struct {
	l       *logFile
	name    string
	pending []byte
}

// maxLine is the longest line kept whole: past it the line is written in
// parts, as docker's driver splits at 16 KiB.
const maxLine = 16 << 10

func (s *logStream) Write(p []byte) (int, error) {
	s.pending = append(s.pending, p...)
	for {
		i := bytes.IndexByte(s.pending, '\n')
		if i < 0 && len(s.pending) < maxLine {
			return len(p), nil
		}
		n := i + 1
		if i < 0 || n > maxLine {
			n = maxLine
		}
		if err := s.l.write(s.name, s.pending[:n]); err != nil {
			return 0, err
		}
		s.pending = s.pending[n:]
	}
}

func (s *logStream) Close() error {
	if len(s.pending) == 0 {
		return nil
	}
	err := s.l.write(s.name, s.pending)
	s.pending = nil
	return err
}

// LogOptions choose what Logs gives.
type LogOptions struct {
	Follow bool // go on until the container stops
	Tail   int  // the last Tail entries only; negative: all
	Since  time.Time
	Until  time.Time // zero: no end
}

// Logs calls emit with the container's log entries that o selects, in
// the order they were written; with Follow, then with each new one until
// the container is not running (or ctx ends).
func (m *Manager) Logs(ctx context.Context, r *Record, o LogOptions, emit func(LogEntry) error) error {
	f, err := os.Open(m.logPath(r.ID))
	if errors.Is(err, os.ErrNotExist) {
		if !o.Follow || m.State(r.ID).Status != Running {
			return m.legacyLogs(r, emit)
		}
		// A container just started may not have written its log yet.
		f, err = m.waitLog(ctx, r)
	}
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	rd := &logReader{f: f}
	pick := func(e LogEntry) bool {
		return !e.Time.Before(o.Since) && (o.Until.IsZero() || !e.Time.After(o.Until))
	}
	// What is there now, the tail of it when asked.
	var first []LogEntry
	if err := rd.read(func(e LogEntry) error {
		if pick(e) {
			first = append(first, e)
		}
		return nil
	}); err != nil {
		return err
	}
	if o.Tail >= 0 && len(first) > o.Tail {
		first = first[len(first)-o.Tail:]
	}
	for _, e := range first {
		if err := emit(e); err != nil {
			return err
		}
	}
	for o.Follow {
		running := m.State(r.ID).Status == Running
		if err := rd.read(func(e LogEntry) error {
			if pick(e) {
				return emit(e)
			}
			return nil
		}); err != nil {
			return err
		}
		if !running {
			return nil // what it wrote before it stopped is read
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// logReader reads the entries of a log being written: a line without
// its newline yet stays for the next read.
type logReader struct {
	f     *os.File
	carry []byte
}

// read calls fn with each complete entry written since the last read.
func (lr *logReader) read(fn func(LogEntry) error) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := lr.f.Read(buf)
		lr.carry = append(lr.carry, buf[:n]...)
		for {
			i := bytes.IndexByte(lr.carry, '\n')
			if i < 0 {
				break
			}
			line := lr.carry[:i]
			lr.carry = lr.carry[i+1:]
			var e LogEntry
			if json.Unmarshal(line, &e) != nil {
				continue // a line torn by a crash
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// waitLog waits for a running container's log to appear.
func (m *Manager) waitLog(ctx context.Context, r *Record) (*os.File, error) {
	for {
		f, err := os.Open(m.logPath(r.ID))
		if !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		if m.State(r.ID).Status != Running {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// legacyLogs gives the raw output of a container made before log.json
// as stdout lines without times.
func (m *Manager) legacyLogs(r *Record, emit func(LogEntry) error) error {
	raw, err := os.ReadFile(m.legacyLogPath(r.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for len(raw) > 0 {
		n := bytes.IndexByte(raw, '\n') + 1
		if n == 0 {
			n = len(raw)
		}
		if err := emit(LogEntry{Log: string(raw[:n]), Stream: "stdout"}); err != nil {
			return err
		}
		raw = raw[n:]
	}
	return nil
}

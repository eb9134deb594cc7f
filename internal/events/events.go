// Package events keeps what happened to containers and images, as docker's
// daemon reports it to `docker events`: an append-only log of JSON lines in
// the store (each line one write with O_APPEND, so the processes that
// share a store never interleave within a line), read back in the order
// written, with an end time or following new lines.
//
// There is no daemon to hold events in memory, so each strata process
// appends what it did; a log past MaxSize is moved aside to LOG.1 (the
// previous one is dropped), so the log keeps between MaxSize and twice
// that, as docker keeps its last 256 events.
package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Event is one thing that happened, with docker's fields.
type Event struct {
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"`   // container, image
	Action     string            `json:"action"` // create, start, die, tag...
	ID         string            `json:"id"`     // container ID, image ID or name
	Attributes map[string]string `json:"attributes,omitempty"`
}

// MaxSize is the size past which the log is moved aside.
const MaxSize = 1 << 20

// Log is the events log at a path.
type Log struct{ path string }

// Open returns the log at path (its directory is made on the first
// Append).
func Open(path string) *Log { return &Log{path: path} }

// Append writes e at the end of the log (its Time now when zero).
func (l *Log) Append(e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return err
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > MaxSize {
		// Another process may append to the moved file meanwhile: its
		// line is then in LOG.1, still read.
		return os.Rename(l.path, l.path+".1")
	}
	return nil
}

// Filter says which events to give: zero fields select all.
type Filter struct {
	Since, Until time.Time // Until zero: follow until ctx ends
	Match        func(Event) bool
}

// Read calls emit with each event f selects, oldest first; with a zero
// Until it then waits for new ones until ctx ends.
func (l *Log) Read(ctx context.Context, f Filter, emit func(Event) error) error {
	pick := func(e Event) error {
		if e.Time.Before(f.Since) || !f.Until.IsZero() && e.Time.After(f.Until) {
			return nil
		}
		if f.Match != nil && !f.Match(e) {
			return nil
		}
		return emit(e)
	}
	if raw, err := os.ReadFile(l.path + ".1"); err == nil {
		if _, err := lines(raw, pick); err != nil {
			return err
		}
	}
	var off int64
	var last os.FileInfo // the file off counts in
	for {
		n, fi, err := l.readFrom(off, last, pick)
		if err != nil {
			return err
		}
		if fi != nil && (last == nil || !os.SameFile(fi, last)) {
			off = 0 // the first read, or the log was moved aside: a new file
		}
		off, last = off+n, fi
		if !f.Until.IsZero() && !time.Now().Before(f.Until) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readFrom reads the log's complete lines from off on (from its start if
// it is not the file last), and returns how many bytes they took and the
// file read.
func (l *Log) readFrom(off int64, last os.FileInfo, fn func(Event) error) (int64, os.FileInfo, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	if last == nil || !os.SameFile(fi, last) {
		off = 0
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, nil, err
	}
	raw, err := io.ReadAll(f)
	if err != nil {
		return 0, nil, err
	}
	n, err := lines(raw, fn)
	return n, fi, err
}

// lines calls fn with each complete line's event and returns the bytes
// they took; a line without its newline (being written) is left.
func lines(raw []byte, fn func(Event) error) (int64, error) {
	var used int64
	for {
		i := bytes.IndexByte(raw, '\n')
		if i < 0 {
			return used, nil
		}
		line := raw[:i]
		raw = raw[i+1:]
		used += int64(i + 1)
		var e Event
		if json.Unmarshal(line, &e) != nil {
			continue // torn by a crash
		}
		if err := fn(e); err != nil {
			return used, err
		}
	}
}

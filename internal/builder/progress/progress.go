// Package progress prints a build's steps the way BuildKit does: in plain
// mode one line per event, each prefixed with its step number ("#5 [2/4]
// COPY . /app", "#5 0.213 output", "#5 DONE 0.3s" or "#5 CACHED"); on a
// terminal a live display redrawn in place; nothing in quiet mode.
package progress

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Mode is how progress is shown.
type Mode int

const (
	Plain Mode = iota
	TTY
	Quiet
)

// ParseMode reads --progress; auto picks TTY when out is a terminal.
func ParseMode(s string, terminal bool) (Mode, error) {
	switch s {
	case "auto", "":
		if terminal {
			return TTY, nil
		}
		return Plain, nil
	case "plain", "rawjson":
		return Plain, nil
	case "tty":
		return TTY, nil
	case "quiet", "none":
		return Quiet, nil
	}
	return 0, fmt.Errorf("invalid progress mode %q (want auto, plain, tty or quiet)", s)
}

// Printer receives the events of one build.
type Printer struct {
	mode  Mode
	w     io.Writer
	mu    sync.Mutex
	next  int
	start time.Time
	now   func() time.Time
	all   []*Vertex
	// tty redraw state
	lines int
	stop  chan struct{}
	done  chan struct{}
}

// New starts a printer. Close must be called.
func New(w io.Writer, mode Mode) *Printer {
	p := &Printer{mode: mode, w: w, next: 1, now: time.Now}
	p.start = p.now()
	if mode == TTY {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.loop()
	}
	return p
}

// SetClock fixes the clock (golden tests).
func (p *Printer) SetClock(now func() time.Time) { p.now = now; p.start = now() }

// Vertex is one step of the display.
type Vertex struct {
	p       *Printer
	n       int
	name    string
	start   time.Time
	end     time.Time
	cached  bool
	err     string
	notes   []string
	logs    []string
	partial []byte
}

// Vertex starts a step named name.
func (p *Printer) Vertex(name string) *Vertex {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := &Vertex{p: p, n: p.next, name: name, start: p.now()}
	p.next++
	p.all = append(p.all, v)
	p.plain("\n#%d %s\n", v.n, name)
	return v
}

func (p *Printer) plain(format string, args ...any) {
	if p.mode == Plain {
		fmt.Fprintf(p.w, format, args...)
	}
}

// Note prints an informational line of the step (cache explanations).
func (v *Vertex) Note(s string) {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	v.notes = append(v.notes, s)
	v.p.plain("#%d %s\n", v.n, s)
}

// Write takes the output of the step's command, printed line by line with
// the time since the step started.
func (v *Vertex) Write(b []byte) (int, error) {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	v.partial = append(v.partial, b...)
	for {
		i := bytes.IndexByte(v.partial, '\n')
		if i < 0 {
			break
		}
		v.logLine(string(v.partial[:i]))
		v.partial = v.partial[i+1:]
	}
	return len(b), nil
}

func (v *Vertex) logLine(s string) {
	s = strings.TrimRight(s, "\r")
	v.logs = append(v.logs, s)
	if len(v.logs) > 200 {
		v.logs = v.logs[len(v.logs)-200:]
	}
	v.p.plain("#%d %.3f %s\n", v.n, v.p.now().Sub(v.start).Seconds(), s)
}

func (v *Vertex) flush() {
	if len(v.partial) > 0 {
		v.logLine(string(v.partial))
		v.partial = nil
	}
}

// Logs returns the last lines of output (for an error message).
func (v *Vertex) Logs() []string {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	return append([]string{}, v.logs...)
}

// Cached ends the step as a cache hit.
func (v *Vertex) Cached() {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	v.cached, v.end = true, v.p.now()
	v.p.plain("#%d CACHED\n", v.n)
}

// Done ends the step.
func (v *Vertex) Done() {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	v.flush()
	v.end = v.p.now()
	v.p.plain("#%d DONE %.1fs\n", v.n, v.end.Sub(v.start).Seconds())
}

// Error ends the step as failed.
func (v *Vertex) Error(err error) {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	v.flush()
	v.end, v.err = v.p.now(), err.Error()
	v.p.plain("#%d ERROR: %s\n", v.n, v.err)
}

// Close stops the live display, drawing it a last time.
func (p *Printer) Close() {
	if p.mode == TTY {
		close(p.stop)
		<-p.done
	}
}

func (p *Printer) loop() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			p.draw(true)
			return
		case <-t.C:
			p.draw(false)
		}
	}
}

// draw redraws the display in place: a header, a line per step, and the
// last lines of output of the steps still running.
func (p *Printer) draw(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	if p.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.lines)
	}
	finished := 0
	for _, v := range p.all {
		if !v.end.IsZero() {
			finished++
		}
	}
	now := p.now()
	lines := 0
	line := func(s string) {
		b.WriteString("\x1b[2K" + s + "\n")
		lines++
	}
	state := "Building"
	if final {
		state = "Finished"
	}
	line(fmt.Sprintf("[+] %s %.1fs (%d/%d)", state, now.Sub(p.start).Seconds(), finished, len(p.all)))
	for _, v := range p.all {
		end := v.end
		if end.IsZero() {
			end = now
		}
		prefix := " => "
		if v.cached {
			prefix = " => CACHED "
		}
		if v.err != "" {
			prefix = " => ERROR "
		}
		line(fmt.Sprintf("%s%s  %.1fs", prefix, clip(v.name, 100), end.Sub(v.start).Seconds()))
		if v.end.IsZero() || v.err != "" {
			logs := v.logs
			if len(logs) > 6 {
				logs = logs[len(logs)-6:]
			}
			for _, l := range logs {
				line(" => => " + clip(l, 110))
			}
		}
		for _, n := range v.notes {
			line(" => => " + clip(n, 110))
		}
	}
	b.WriteString("\x1b[J") // clear what a longer previous frame left below
	p.lines = lines
	io.WriteString(p.w, b.String())
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

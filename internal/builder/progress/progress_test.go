package progress

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testutil"
)

// run drives a printer through one build's events. advance moves its
// clock; frame draws the live display (TTY only) as the ticker would.
type run struct {
	p       *Printer
	clock   time.Time
	advance func(time.Duration)
	frame   func()
}

// newRun makes a printer on a clock that only moves when told; the TTY
// printer has no ticker, so every frame is one the script asks for.
func newRun(mode Mode, w *bytes.Buffer) *run {
	r := &run{clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r.p = &Printer{mode: mode, w: w, next: 1}
	r.p.SetClock(func() time.Time { return r.clock })
	r.advance = func(d time.Duration) { r.clock = r.clock.Add(d) }
	r.frame = func() {
		if mode == TTY {
			r.p.draw(false)
		}
	}
	return r
}

var scripts = []struct {
	name string
	run  func(r *run)
}{
	{"cached-and-built", func(r *run) {
		from := r.p.Vertex("[1/3] FROM busybox")
		r.advance(20 * time.Millisecond)
		from.Done()
		cp := r.p.Vertex("[2/3] COPY . /app")
		cp.Cached()
		run := r.p.Vertex("[3/3] RUN make")
		r.advance(250 * time.Millisecond)
		fmt.Fprint(run, "compiling a\ncompiling ")
		r.frame()
		r.advance(time.Second)
		fmt.Fprint(run, "b\r\nlinking") // a CR before the newline is dropped
		r.frame()
		r.advance(500 * time.Millisecond)
		run.Done() // prints the unfinished last line
		r.advance(100 * time.Millisecond)
	}},
	{"failed-step-with-notes", func(r *run) {
		v := r.p.Vertex("[1/2] COPY missing /x")
		v.Note("cache miss: COPY reads missing, which is new")
		r.advance(30 * time.Millisecond)
		v.Error(errors.New(`"/missing": not found`))
		w := r.p.Vertex("[2/2] RUN echo never")
		r.frame()
		for i := range 8 {
			fmt.Fprintf(w, "line %d\n", i) // TTY shows the last 6 of a running step
		}
		r.frame()
		w.Error(errors.New("process exited with code 1"))
	}},
	{"long-names-clipped", func(r *run) {
		v := r.p.Vertex("[1/1] RUN " + strings.Repeat("x", 120))
		fmt.Fprintln(v, strings.Repeat("y", 150))
		r.frame()
		v.Done()
	}},
}

// TestPrinter compares what each mode prints for the same events with
// golden files (go test -update rewrites them); terminal escapes are shown
// as <ESC>.
func TestPrinter(t *testing.T) {
	for _, s := range scripts {
		for _, m := range []struct {
			name string
			mode Mode
		}{{"plain", Plain}, {"tty", TTY}, {"quiet", Quiet}} {
			t.Run(s.name+"/"+m.name, func(t *testing.T) {
				var out bytes.Buffer
				r := newRun(m.mode, &out)
				s.run(r)
				if m.mode == TTY {
					r.p.draw(true) // what Close draws last
				}
				got := strings.ReplaceAll(out.String(), "\x1b", "<ESC>")
				if m.mode == Quiet {
					if got != "" {
						t.Fatalf("quiet printed %q", got)
					}
					return
				}
				testutil.Golden(t, "testdata/"+s.name+"-"+m.name+".golden", got)
			})
		}
	}
}

// TestCloseDrawsFinalFrame: a TTY printer started by New redraws on its
// own and, on Close, ends with the finished display.
func TestCloseDrawsFinalFrame(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, TTY)
	v := p.Vertex("[1/1] RUN true")
	v.Done()
	p.Close()
	frames := strings.Split(out.String(), "\x1b[J")
	last := frames[len(frames)-2] // the text after the last clear is empty
	if !strings.Contains(last, "[+] Finished") || !strings.Contains(last, " => [1/1] RUN true") || frames[len(frames)-1] != "" {
		t.Fatalf("last frame %q", last)
	}
}

func TestLogsKeepsTheLast200Lines(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, Quiet)
	v := p.Vertex("RUN")
	for i := range 250 {
		fmt.Fprintf(v, "%d\n", i)
	}
	fmt.Fprint(v, "partial")
	logs := v.Logs()
	if len(logs) != 200 || logs[0] != "50" || logs[199] != "249" {
		t.Fatalf("%d lines, first %q, last %q", len(logs), logs[0], logs[len(logs)-1])
	}
	v.Error(errors.New("failed")) // the partial line becomes the last
	if logs := v.Logs(); len(logs) != 200 || logs[199] != "partial" {
		t.Fatalf("after Error: %d lines, last %q", len(logs), logs[len(logs)-1])
	}
}

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in       string
		terminal bool
		want     Mode
		err      bool
	}{
		{"auto", true, TTY, false},
		{"auto", false, Plain, false},
		{"", true, TTY, false},
		{"", false, Plain, false},
		{"plain", true, Plain, false},
		{"rawjson", false, Plain, false},
		{"tty", false, TTY, false},
		{"quiet", true, Quiet, false},
		{"none", false, Quiet, false},
		{"fancy", true, 0, true},
	} {
		got, err := ParseMode(tc.in, tc.terminal)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseMode(%q, %v) = %v, %v", tc.in, tc.terminal, got, err)
		}
	}
}

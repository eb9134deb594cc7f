package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A stream writes one entry per line whatever the writes' sizes, a line
// longer than maxLine in parts, and what has no newline on Close.
func TestLogStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	l := &logFile{f: f}
	out, errs := l.stream("stdout"), l.stream("stderr")
	long := strings.Repeat("x", maxLine+10)
	for _, w := range []struct {
		s *logStream
		p string
	}{{out, "a"}, {out, "b\nc\n"}, {errs, "e1\n"}, {out, long + "\n"}, {out, "tail"}} {
		if _, err := w.s.Write([]byte(w.p)); err != nil {
			t.Fatal(err)
		}
	}
	out.Close()
	errs.Close()
	l.Close()
	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	if err := (&logReader{f: f}).read(func(e LogEntry) error {
		if e.Time.IsZero() {
			t.Errorf("entry %q has no time", e.Log)
		}
		got = append(got, fmt.Sprintf("%s:%.8q(%d)", e.Stream, e.Log, len(e.Log)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{`stdout:"ab\n"(3)`, `stdout:"c\n"(2)`, `stderr:"e1\n"(3)`, `stdout:"xxxxxxxx"(16384)`, `stdout:"xxxxxxxx"(11)`, `stdout:"tail"(4)`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries %q\nwant %q", got, want)
	}
}

// TestLogs: a foreground container's output is kept (docker keeps it too),
// each line with its stream; Tail, Since and Until select as docker's
// logs flags do.
func TestLogs(t *testing.T) {
	e := newEnv(t, "")
	r, err := e.m.Create(t.Context(), CreateOptions{Image: "busybox", Network: NetworkNone, Args: []string{"sh", "-c", "echo out1; echo err1 >&2; sleep 0.1; printf partial"}})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if err := e.m.Start(r, Stdio{Stdout: &out, Stderr: &errb}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out1\npartial" || errb.String() != "err1\n" {
		t.Fatalf("run printed %q and %q", out.String(), errb.String())
	}
	logs := func(o LogOptions) string {
		var got []string
		if err := e.m.Logs(context.Background(), r, o, func(e LogEntry) error {
			got = append(got, e.Stream+":"+e.Log)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, "|")
	}
	all := logs(LogOptions{Tail: -1})
	if all != "stdout:out1\n|stderr:err1\n|stdout:partial" && all != "stderr:err1\n|stdout:out1\n|stdout:partial" {
		t.Errorf("logs: %q", all)
	}
	future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	for _, c := range []struct {
		o    LogOptions
		want string
	}{
		{LogOptions{Tail: 1}, "stdout:partial"},
		{LogOptions{Tail: 0}, ""},
		{LogOptions{Tail: -1, Since: future}, ""},
		{LogOptions{Tail: -1, Until: past}, ""},
		{LogOptions{Tail: -1, Since: past, Until: future}, all},
		{LogOptions{Tail: -1, Follow: true}, all}, // stopped: returns at once
	} {
		if got := logs(c.o); got != c.want {
			t.Errorf("logs %+v: %q, want %q", c.o, got, c.want)
		}
	}
}

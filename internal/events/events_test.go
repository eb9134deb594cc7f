package events

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAppendRead(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "events", "log.json"))
	base := time.Now().Add(-time.Hour) // Until in the past: no following
	for i, a := range []string{"create", "start", "die", "destroy"} {
		if err := l.Append(Event{Time: base.Add(time.Duration(i) * time.Second), Type: "container", Action: a, ID: "c1"}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		f    Filter
		want string
	}{
		{"all", Filter{Until: base.Add(time.Minute)}, "create start die destroy"},
		{"since", Filter{Since: base.Add(time.Second), Until: base.Add(time.Minute)}, "start die destroy"},
		{"until", Filter{Until: base.Add(2 * time.Second)}, "create start die"},
		{"match", Filter{Until: base.Add(time.Minute), Match: func(e Event) bool { return e.Action == "die" }}, "die"},
	}
	for _, c := range cases {
		var got []string
		err := l.Read(context.Background(), c.f, func(e Event) error { got = append(got, e.Action); return nil })
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%s: %v %q, want %q", c.name, err, got, c.want)
		}
	}
}

// A torn last line (a crash mid-write) is skipped; the log moved aside
// past MaxSize is read first.
func TestTornAndRotated(t *testing.T) {
	dir := t.TempDir()
	l := Open(filepath.Join(dir, "log.json"))
	big := strings.Repeat("x", MaxSize)
	if err := l.Append(Event{Type: "container", Action: "old", ID: big}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.path + ".1"); err != nil {
		t.Fatalf("not moved aside past MaxSize: %v", err)
	}
	if err := l.Append(Event{Type: "container", Action: "new", ID: "c"}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"type":"container","act`)
	f.Close()
	var got []string
	err := l.Read(context.Background(), Filter{Until: time.Now()}, func(e Event) error { got = append(got, e.Action); return nil })
	if err != nil || strings.Join(got, " ") != "old new" {
		t.Fatalf("%v %q", err, got)
	}
}

// Without Until, Read follows: an event appended later is given.
func TestFollow(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "log.json"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 4)
	done := make(chan error)
	go func() {
		done <- l.Read(ctx, Filter{}, func(e Event) error { got <- e.Action; return nil })
	}()
	for _, a := range []string{"start", "die"} {
		if err := l.Append(Event{Type: "container", Action: a, ID: "c"}); err != nil {
			t.Fatal(err)
		}
		if g := <-got; g != a {
			t.Fatalf("got %s, want %s", g, a)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A damaged log gives the events of its whole lines and no error.
func FuzzLines(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-06T04:31:18Z","type":"container","action":"create","id":"c"}` + "\n{\"ty"))
	f.Add([]byte("\n\n{}\nnot json\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, err := lines(raw, func(Event) error { return nil })
		if err != nil || n > int64(len(raw)) {
			t.Fatalf("used %d of %d: %v", n, len(raw), err)
		}
	})
}

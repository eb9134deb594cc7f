package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/events"
)

// The tests here compare strata's rendering of top, stats and events with
// docker 20.10's, recorded in testdata/docker (see its README).

func recorded(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/docker/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestTopAsDocker(t *testing.T) {
	var pids []int
	for _, f := range strings.Fields(recorded(t, "top-pids.txt")) {
		n, _ := strconv.Atoi(f)
		pids = append(pids, n)
	}
	for _, c := range []struct{ ps, top string }{
		{"ps-ef.txt", "top.txt"},
		{"ps-o-pid-comm.txt", "top-o-pid-comm.txt"},
	} {
		procs, err := container.ParsePS([]byte(recorded(t, c.ps)), pids)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := printTop(&out, procs); err != nil {
			t.Fatal(err)
		}
		if want := recorded(t, c.top); out.String() != want {
			t.Errorf("%s:\n%s\nwant (docker's)\n%s", c.ps, out.String(), want)
		}
	}
}

func TestStatsAsDocker(t *testing.T) {
	r := &container.Record{ID: "0300b2a51acd161bf30bb8168f1b2a7475af3d963a42c30b9292721774eca3db", Name: "hc-a"}
	const limit = 25275973304 // 23.54GiB, this host's memory
	prev := container.Stats{CPU: 1000, System: 100000, OnlineCPUs: 1}
	cur := container.Stats{CPU: 1059, System: 110000, OnlineCPUs: 1, MemUsage: 2162163, MemLimit: limit, NetRx: 736, Pids: 2}
	for _, c := range []struct {
		format, as string
		prev, cur  container.Stats
		r          *container.Record
		want       string
	}{
		{"", "hc-a", prev, cur, r, "stats.txt"},
		{"{{json .}}", "hc-a", prev, container.Stats{CPU: 1053, System: 110000, OnlineCPUs: 1, MemUsage: 2346713, MemLimit: limit, NetRx: 806, Pids: 2}, r, "stats-json.txt"},
		// A container that is not running: zeros, as docker -a shows it.
		{"", "", container.Stats{}, container.Stats{}, &container.Record{ID: "26f5a2d48e87cfe6aab29632978384d1bd2c2e3b44c9825b4546e0bae2e353ad", Name: "hc-d"}, "stats-stopped.txt"},
	} {
		var out bytes.Buffer
		row := newStatsRow(c.r, c.as, c.prev, c.cur, false)
		if err := (table{format: c.format, columns: statsColumns, headers: statsHeaders}).print(&out, []any{row}); err != nil {
			t.Fatal(err)
		}
		if want := recorded(t, c.want); out.String() != want {
			t.Errorf("%s:\n%s\nwant (docker's)\n%s", c.want, out.String(), want)
		}
	}
}

// parseEventLine reads back one of docker's recorded event lines.
func parseEventLine(t *testing.T, line string) events.Event {
	ts, rest, _ := strings.Cut(line, " ")
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatal(err)
	}
	e := events.Event{Time: tm, Attributes: map[string]string{}}
	rest, attrs, _ := strings.Cut(rest, " (")
	for _, kv := range strings.Split(strings.TrimSuffix(attrs, ")"), ", ") {
		k, v, _ := strings.Cut(kv, "=")
		e.Attributes[k] = v
	}
	e.Type, rest, _ = strings.Cut(rest, " ")
	i := strings.LastIndex(rest, " ")
	e.Action, e.ID = rest[:i], rest[i+1:]
	return e
}

func TestEventsAsDocker(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.UTC // docker's lines were recorded on a UTC host
	for _, line := range strings.Split(strings.TrimSpace(recorded(t, "events.txt")), "\n") {
		if got := eventLine(parseEventLine(t, line)); got != line {
			t.Errorf("got  %s\nwant %s", got, line)
		}
	}
	for i, line := range strings.Split(strings.TrimSpace(recorded(t, "events-json.txt")), "\n") {
		var want eventMessage
		if err := json.Unmarshal([]byte(line), &want); err != nil {
			t.Fatal(err)
		}
		e := events.Event{Time: time.Unix(0, want.TimeNano), Type: want.Type, Action: want.Action, ID: want.ID, Attributes: want.Actor.Attributes}
		var out bytes.Buffer
		if err := (table{format: "{{json .}}"}).print(&out, []any{newEventMessage(e)}); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out.String()) != line {
			t.Errorf("event %d:\n%s\nwant (docker's)\n%s", i, out.String(), line)
		}
	}
}

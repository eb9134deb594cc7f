package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestParseTimeFlag: --since/--until values as docker reads them; the
// error was recorded from `docker logs --since bogus hbl` (exit 1).
func TestParseTimeFlag(t *testing.T) {
	now := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"10m", now.Add(-10 * time.Minute)},
		{"2026-12-05T10:00:00Z", time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)},
		{"2026-12-05T10:00:00.5+01:00", time.Date(2026, 12, 5, 9, 0, 0, 5e8, time.UTC)},
		{"1764900000", time.Unix(1764900000, 0)},
		{"1764900000.25", time.Unix(1764900000, 25e7)},
	}
	for _, c := range cases {
		got, err := parseTimeFlag("since", c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: %v %v, want %v", c.in, got, err, c.want)
		}
	}
	if _, err := parseTimeFlag("since", "bogus", now); err == nil || err.Error() != `invalid value for "since": failed to parse value as time or duration: "bogus"` {
		t.Errorf("bogus: %v", err)
	}
}

func FuzzParseTimeFlag(f *testing.F) {
	for _, s := range []string{"10m", "2026-12-05T10:00:00Z", "1764900000.25", "2026-12-05", "-1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseTimeFlag("since", s, time.Now()) // never panics
	})
}

// TestLogsCLI: logs gives stdout and stderr apart, with docker's -t
// timestamps, --tail, and -f until the container stops; a foreground
// container's output is kept too. Recorded from docker (docker run -d
// --name hbl busybox sh -c 'echo out1; echo err1 >&2; echo out2; printf
// partial'):
//
//	$ docker logs hbl      -> stdout "out1\nout2\npartial", stderr "err1\n"
//	$ docker logs -t hbl   -> "2026-12-06T02:19:04.715213616Z out1" ...
//	$ docker logs --tail 0 hbl -> nothing, exit 0
//	$ docker run --name hbf busybox sh -c 'echo fg-out; echo fg-err >&2'; docker logs hbf -> both
func TestLogsCLI(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	for _, args := range [][]string{
		{"run", "-d", "--name", "c1", "--network", "none", "busybox", "sh", "-c", "echo out1; echo err1 >&2; echo out2; printf partial"},
		{"run", "--name", "c2", "--network", "none", "busybox", "sh", "-c", "echo fg-out; echo fg-err >&2"},
		{"wait", "c1"},
	} {
		if _, errOut, code := sh(t, root, args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
	}
	ts := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z `
	steps := []struct {
		args             []string
		wantOut, wantErr string // regexps of the whole streams
		code             int
	}{
		{[]string{"logs", "c1"}, `^out1\nout2\npartial$`, `^err1\n$`, 0},
		{[]string{"logs", "-t", "c1"}, `^` + ts + `out1\n` + ts + `out2\n` + ts + `partial$`, `^` + ts + `err1\n$`, 0},
		{[]string{"logs", "--tail", "1", "c1"}, `^partial$`, `^$`, 0},
		{[]string{"logs", "--tail", "0", "c1"}, `^$`, `^$`, 0},
		{[]string{"logs", "--until", "1h", "c1"}, `^$`, `^$`, 0},
		{[]string{"logs", "--since", "1h", "c1"}, `^out1\nout2\npartial$`, `^err1\n$`, 0},
		{[]string{"logs", "--since", "bogus", "c1"}, `^$`, `^Error: invalid value for "since": failed to parse value as time or duration: "bogus"\n$`, 1},
		{[]string{"logs", "c2"}, `^fg-out\n$`, `^fg-err\n$`, 0},
		{[]string{"run", "-d", "--name", "c3", "--network", "none", "busybox", "sh", "-c", "for i in 1 2 3; do echo l$i; sleep 0.3; done"}, `^[0-9a-f]{64}\n$`, `^$`, 0},
		{[]string{"logs", "-f", "c3"}, `^l1\nl2\nl3\n$`, `^$`, 0},
	}
	for _, s := range steps {
		out, errOut, code := sh(t, root, s.args...)
		if code != s.code || !regexp.MustCompile(s.wantOut).MatchString(out) || !regexp.MustCompile(s.wantErr).MatchString(errOut) {
			t.Errorf("strata %s: exit %d (want %d)\nstdout %q (want %s)\nstderr %q (want %s)", strings.Join(s.args, " "), code, s.code, out, s.wantOut, errOut, s.wantErr)
		}
	}
}

package rootless

import (
	"strings"
	"testing"
)

func TestParseSubIDs(t *testing.T) {
	const file = "# comment\nalice:100000:65536\nbob:x:10\n1002:200000:1000\ncarol:300000:0\nbad line\nalice:500000:10\n"
	for _, tc := range []struct {
		name string
		id   uint32
		want Range
		ok   bool
	}{
		{"alice", 1000, Range{100000, 65536}, true}, // the first of two ranges
		{"dave", 1002, Range{200000, 1000}, true},   // by id
		{"bob", 1003, Range{}, false},               // a bad start
		{"carol", 1004, Range{}, false},             // an empty range
		{"erin", 1005, Range{}, false},
	} {
		got, ok, err := ParseSubIDs(strings.NewReader(file), tc.name, tc.id)
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("%s: %v %v %v, want %v %v", tc.name, got, ok, err, tc.want, tc.ok)
		}
	}
	if s := (Range{100000, 65536}).String(); s != "100000-165535" {
		t.Errorf("range string %q", s)
	}
}

func FuzzParseSubIDs(f *testing.F) {
	f.Add("alice:100000:65536\n", "alice")
	f.Add("1000:4294967295:1\n", "x")
	f.Fuzz(func(t *testing.T, file, name string) {
		r, ok, err := ParseSubIDs(strings.NewReader(file), name, 1000)
		if err == nil && ok && (r.Count == 0 || uint64(r.Start)+uint64(r.Count) > 1<<32) {
			t.Fatalf("range %v out of bounds", r)
		}
	})
}

func TestNeedsNamespace(t *testing.T) {
	for _, tc := range []struct {
		args string
		want bool
	}{
		{"", false},
		{"version", false},
		{"--root /x version", false},
		{"help build", false},
		{"build --help .", false},
		{"completion bash", false},
		{"images", true},
		{"--root /x run busybox", true},
		{"build -t x .", true},
	} {
		if got := NeedsNamespace(strings.Fields(tc.args)); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestWithEnv(t *testing.T) {
	got := withEnv([]string{"A=1", "B=2", "AB=3"}, "A", "9")
	if strings.Join(got, " ") != "B=2 AB=3 A=9" {
		t.Errorf("withEnv = %v", got)
	}
}

func TestIsInitialMap(t *testing.T) {
	for m, want := range map[string]bool{
		"         0          0 4294967295\n":                                   true,
		"         0       1001          1\n         1     100000      65536\n": false,
		"         0     100000      65536\n":                                   false,
	} {
		if got := isInitialMap(m); got != want {
			t.Errorf("%q: %v", m, got)
		}
	}
}

package cli

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

func TestParseDetachKeys(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []byte
		err  bool
	}{
		{"ctrl-p,ctrl-q", []byte{16, 17}, false},
		{"ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", []byte{0, 27, 28, 29, 30, 31}, false},
		{"a,CTRL-A", []byte{'a', 1}, false},
		{"", nil, true},
		{"ctrl-", nil, true},
		{"ctrl-1", nil, true},
		{"ab", nil, true},
		{"a,,b", nil, true},
	} {
		got, err := parseDetachKeys(c.in)
		if (err != nil) != c.err || !bytes.Equal(got, c.want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
}

func TestEscapeReader(t *testing.T) {
	keys := []byte{16, 17}
	for _, c := range []struct {
		in, want string
		detached bool
	}{
		{"echo hi\r", "echo hi\r", false},
		{"ab\x10\x11cd", "ab", true},
		{"\x10a\x10\x10\x11z", "\x10a\x10", true},
		{"a\x10", "a\x10", false}, // the input ends inside the sequence
		{"\x11\x10", "\x11\x10", false},
		{"\x10\x10\x10\x11", "\x10\x10", true},
	} {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = bytes.NewReader([]byte(c.in))
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			detached := false
			got, err := io.ReadAll(&escapeReader{r: r, keys: keys, detach: func() { detached = true }})
			if err != nil || string(got) != c.want || detached != c.detached {
				t.Errorf("%q (one byte at a time: %v): %q, detached %v, %v; want %q, detached %v", c.in, oneByte, got, detached, err, c.want, c.detached)
			}
		}
	}
}

// Keys whose start repeats inside them: the sequence is found where it
// begins, not only where a first attempt started.
func TestEscapeReaderOverlap(t *testing.T) {
	for _, c := range []struct{ keys, in, want string }{
		{"001", "0001x", "0"},
		{"aab", "aaab", "a"},
		{"abab", "aababx", "a"},
		{"abc", "ababc", "ab"},
	} {
		detached := false
		got, _ := io.ReadAll(&escapeReader{r: bytes.NewReader([]byte(c.in)), keys: []byte(c.keys), detach: func() { detached = true }})
		if string(got) != c.want || !detached {
			t.Errorf("keys %q, input %q: read %q, detached %v; want %q, detached", c.keys, c.in, got, detached, c.want)
		}
	}
}

// FuzzDetachKeys: any --detach-keys either parses to a sequence that an
// escapeReader then stops at, or is refused; nothing panics.
func FuzzDetachKeys(f *testing.F) {
	for _, s := range []string{"ctrl-p,ctrl-q", "a", "ctrl-[,x", ",", "ctrl-ß"} {
		f.Add(s, []byte("abc"))
	}
	f.Fuzz(func(t *testing.T, s string, in []byte) {
		keys, err := parseDetachKeys(s)
		if err != nil {
			return
		}
		if len(keys) == 0 {
			t.Fatalf("%q parsed to no keys", s)
		}
		detached := false
		got, _ := io.ReadAll(&escapeReader{r: bytes.NewReader(append(in, keys...)), keys: keys, detach: func() { detached = true }})
		if !detached || len(got) > len(in) || !bytes.Equal(got, in[:len(got)]) {
			t.Fatalf("keys %v after %q: read %q, detached %v", keys, in, got, detached)
		}
	})
}

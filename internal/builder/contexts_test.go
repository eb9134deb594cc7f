package builder

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseContexts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	cases := []struct {
		in   []string
		want map[string]NamedContext
		err  string
	}{
		{in: nil, want: map[string]NamedContext{}},
		{in: []string{"Base=" + dir, "alpine=docker-image://alpine:3.19"},
			want: map[string]NamedContext{"base": {Dir: dir}, "alpine": {Image: "alpine:3.19"}}},
		{in: []string{"x"}, err: "want NAME=DIR"},
		{in: []string{"=" + dir}, err: "want NAME=DIR"},
		{in: []string{"x="}, err: "want NAME=DIR"},
		{in: []string{"x=docker-image://Bad:Ref"}, err: "invalid --build-context"},
		{in: []string{"x=oci-layout:///tmp/l"}, err: "oci-layout sources are not supported"},
		{in: []string{"x=" + file}, err: "is not a directory"},
		{in: []string{"bad name=" + dir}, err: "not a valid name"},
	}
	for _, c := range cases {
		got, err := ParseContexts(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseContexts(%q): %v, want an error with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseContexts(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func FuzzParseContexts(f *testing.F) {
	for _, s := range []string{"a=.", "a=docker-image://busybox", "a=https://x", "=", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseContexts([]string{s})
		if err != nil {
			return
		}
		for name, nc := range got {
			if name != strings.ToLower(name) || (nc.Dir == "") == (nc.Image == "") {
				t.Fatalf("ParseContexts(%q) = %v", s, got)
			}
		}
	})
}

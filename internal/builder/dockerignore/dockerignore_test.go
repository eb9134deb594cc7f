package dockerignore

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := "\xEF\xBB\xBF# comment\n\n  *.log  \n/abs/path\n! keep.log\n./a/../b\n"
	got, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"*.log", "abs/path", "!keep.log", "b"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestExcluded(t *testing.T) {
	cases := []struct {
		name     string
		patterns []string
		path     string
		excluded bool
	}{
		{"no patterns", nil, "a", false},
		{"plain", []string{"a"}, "a", true},
		{"child of excluded dir", []string{"dir"}, "dir/x/y", true},
		{"glob", []string{"*.log"}, "x.log", true},
		{"glob does not cross dirs", []string{"*.log"}, "sub/x.log", false},
		{"double star", []string{"**/*.log"}, "sub/deep/x.log", true},
		{"exception", []string{"*.md", "!README.md"}, "README.md", false},
		{"exception then re-exclude", []string{"*.md", "!README*.md", "README-secret.md"}, "README-secret.md", true},
		{"exception inside excluded dir", []string{"dir", "!dir/keep"}, "dir/keep", false},
		{"sibling of exception", []string{"dir", "!dir/keep"}, "dir/other", true},
		{"question mark", []string{"f?.txt"}, "f1.txt", true},
		{"range", []string{"f[0-4].txt"}, "f7.txt", false},
		{"leading slash in path", []string{"a"}, "/a", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(c.patterns)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Excluded(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.excluded {
				t.Fatalf("Excluded(%q) with %q = %v, want %v", c.path, c.patterns, got, c.excluded)
			}
		})
	}
}

func TestBadPattern(t *testing.T) {
	if _, err := New([]string{"[a-"}); err == nil {
		t.Fatal("want an error for an unterminated range")
	}
}

// FuzzDockerignore feeds arbitrary ignore files and paths: reading and
// matching must never panic, and a path that matches is a clean relative
// path's answer whatever the input.
func FuzzDockerignore(f *testing.F) {
	f.Add("*.log\n!keep.log\n**/tmp\n", "a/tmp/x")
	f.Add("[a-\n", "a")
	f.Add("\\\n!\n!!\n/\n", "..")
	f.Fuzz(func(t *testing.T, file, p string) {
		ps, err := Read(strings.NewReader(file))
		if err != nil {
			return
		}
		m, err := New(ps)
		if err != nil {
			return
		}
		ex1, err1 := m.Excluded(p)
		ex2, err2 := m.Excluded("/" + p)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && ex1 != ex2) {
			t.Fatalf("a leading slash changed the answer for %q: %v/%v %v/%v", p, ex1, err1, ex2, err2)
		}
	})
}

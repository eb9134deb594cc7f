package cache

import (
	"strings"
	"testing"
)

// TestKeyDigest: the digest covers every input but the explaining file
// list, and map order does not matter.
func TestKeyDigest(t *testing.T) {
	base := Key{Parent: "p", Instruction: "COPY . /", Args: map[string]string{"A": "1", "B": "2"}, Sources: "s"}
	same := Key{Parent: "p", Instruction: "COPY . /", Args: map[string]string{"B": "2", "A": "1"}, Sources: "s", Files: map[string]string{"x": "y"}}
	if base.Digest() != same.Digest() {
		t.Fatal("Files or map order changed the digest")
	}
	for name, k := range map[string]Key{
		"parent":      {Parent: "q", Instruction: "COPY . /", Args: base.Args, Sources: "s"},
		"instruction": {Parent: "p", Instruction: "COPY . /x", Args: base.Args, Sources: "s"},
		"arg":         {Parent: "p", Instruction: "COPY . /", Args: map[string]string{"A": "1", "B": "3"}, Sources: "s"},
		"sources":     {Parent: "p", Instruction: "COPY . /", Args: base.Args, Sources: "t"},
		"platform":    {Parent: "p", Instruction: "COPY . /", Args: base.Args, Sources: "s", Platform: "linux/arm64"},
	} {
		if k.Digest() == base.Digest() {
			t.Errorf("a different %s gives the same digest", name)
		}
	}
}

func TestExplain(t *testing.T) {
	old := &Record{Key: Key{Parent: "p", Instruction: "COPY src/ /app", Args: map[string]string{"V": "1"}, Sources: "s1",
		Files: map[string]string{"src/a": "1", "src/b": "2", "src/gone": "3"}}}
	base := &Record{Key: Key{Base: "docker.io/library/busybox:latest", BaseID: "sha256:aaaaaaaaaaaaaaaaaaaa", Platform: "linux/amd64"}}
	all := map[string]*Record{old.Key.Digest(): old, base.Key.Digest(): base}
	cases := []struct {
		name   string
		key    Key
		parent *Key
		want   string
	}{
		{"file changed", Key{Parent: "p", Instruction: "COPY src/ /app", Args: map[string]string{"V": "1"}, Sources: "s2",
			Files: map[string]string{"src/a": "1", "src/b": "X", "src/new": "4"}},
			nil, "file src/b changed; file src/gone removed; file src/new added"},
		{"arg changed", Key{Parent: "p", Instruction: "COPY src/ /app", Args: map[string]string{"V": "2"}, Sources: "s1"},
			nil, `build arg V changed: "1" -> "2"`},
		{"instruction changed", Key{Parent: "p", Instruction: "COPY src/ /srv", Args: map[string]string{"V": "1"}, Sources: "s1"},
			nil, `instruction changed: was "COPY src/ /app"`},
		{"base changed", Key{Parent: "newbase", Instruction: "COPY src/ /app"},
			&Key{Base: "docker.io/library/busybox:latest", BaseID: "sha256:bbbbbbbbbbbbbbbbbbbb", Platform: "linux/amd64"},
			"base image docker.io/library/busybox:latest changed: was sha256:aaaaaaaaaaaa, now sha256:bbbbbbbbbbbb"},
		{"nothing before", Key{Parent: "other", Instruction: "RUN x"}, nil, "no earlier build of this step"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Explain(c.key, c.parent, all, ""); got != c.want {
				t.Fatalf("got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	files := map[string]string{}
	for i := 0; i < 5000; i++ {
		files["d"+string(rune('a'+i%20))+"/f"+strings.Repeat("x", i%7)+string(rune('0'+i%10))+"/"+string(rune(i))] = "s"
	}
	out := Summarise(files)
	if len(out) > maxFiles || len(out) == 0 {
		t.Fatalf("summarised to %d entries", len(out))
	}
}

package imagediff

import (
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCompare builds image pairs in a store and checks the files, layers
// and config that Compare reports.
func TestCompare(t *testing.T) {
	base := func(t *testing.T) []byte {
		return testutil.Tar(t,
			testutil.Dir("etc/"), testutil.File("etc/motd", "hello\n"), testutil.File("etc/keep", "k"),
			testutil.Dir("old/"), testutil.File("old/a", "aaaa"), testutil.File("old/b", "bb"),
			testutil.Dir("opq/"), testutil.File("opq/gone", "g"),
			testutil.File("mode", "m"), testutil.Symlink("lnk", "etc/motd"))
	}
	tests := []struct {
		name      string
		a, b      func(t *testing.T) [][]byte
		files     []string // KIND PATH [what]
		where     []Where
		configFor func(c *image.ConfigFile) // applied to B's config
		config    []string
	}{
		{
			name:  "the same image",
			a:     func(t *testing.T) [][]byte { return [][]byte{base(t)} },
			b:     func(t *testing.T) [][]byte { return [][]byte{base(t)} },
			where: []Where{Shared},
		},
		{
			name:  "a layer in another compression is shared",
			a:     func(t *testing.T) [][]byte { return [][]byte{base(t)} },
			b:     func(t *testing.T) [][]byte { return [][]byte{gz(t, base(t))} },
			where: []Where{Shared},
		},
		{
			name: "every kind of change in a layer on top",
			a:    func(t *testing.T) [][]byte { return [][]byte{base(t)} },
			b: func(t *testing.T) [][]byte {
				return [][]byte{base(t), testutil.Tar(t,
					testutil.File("etc/motd", "bye\n"), // content, same size
					testutil.Whiteout("old"),           // a directory and all in it
					testutil.Opaque("opq"), testutil.File("opq/new", "n"),
					testutil.Entry{Name: "mode", Body: "m", Mode: 0o600, UID: 7}, // mode and owner only
					testutil.Symlink("lnk", "etc/keep"),
					testutil.File("added", "12345"),
					testutil.Hardlink("etc/keep2", "added"), // holds what added holds (a link targets its own layer)
				)}
			},
			files: []string{"A /added", "A /etc/keep2", "C /etc/motd content", "C /lnk link", "C /mode mode,owner",
				"D /old", "D /old/a", "D /old/b", "D /opq/gone", "A /opq/new"},
			where: []Where{Shared, OnlyB},
		},
		{
			name: "a file deleted and written again with the same content is the same",
			a:    func(t *testing.T) [][]byte { return [][]byte{base(t)} },
			b: func(t *testing.T) [][]byte {
				return [][]byte{base(t), testutil.Tar(t, testutil.Whiteout("etc/keep")), testutil.Tar(t, testutil.File("etc/keep", "k"))}
			},
			where: []Where{Shared, OnlyB, OnlyB},
		},
		{
			name:  "different layers, and the config",
			a:     func(t *testing.T) [][]byte { return [][]byte{base(t)} },
			b:     func(t *testing.T) [][]byte { return [][]byte{testutil.Tar(t, testutil.File("x", "y"))} },
			files: []string{"D /etc", "D /etc/keep", "D /etc/motd", "D /lnk", "D /mode", "D /old", "D /old/a", "D /old/b", "D /opq", "D /opq/gone", "A /x"},
			where: []Where{OnlyA, OnlyB},
			configFor: func(c *image.ConfigFile) {
				c.Config.Env = []string{"A=1"}
				c.Config.Cmd = []string{"sh"}
			},
			config: []string{`Cmd null ["sh"]`, `Env null ["A=1"]`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			a := storetest.Image(t, st, nil, "a:1", tc.a(t)...)
			var b *metadata.Image
			if tc.configFor != nil {
				b = storetest.ConfigImage(t, st, "b:1", tc.configFor, tc.b(t)...)
			} else {
				b = storetest.Image(t, st, nil, "b:1", tc.b(t)...)
			}
			res, err := Compare(context.Background(), storetest.Source(t, st, a), storetest.Source(t, st, b))
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, f := range res.Files {
				s := string(f.Kind) + " " + f.Path
				if len(f.What) > 0 {
					s += " " + strings.Join(f.What, ",")
				}
				files = append(files, s)
			}
			if strings.Join(files, "\n") != strings.Join(tc.files, "\n") {
				t.Errorf("files:\n%s\nwant:\n%s", strings.Join(files, "\n"), strings.Join(tc.files, "\n"))
			}
			var where []Where
			for _, l := range res.Layers {
				where = append(where, l.Where)
			}
			if !equal(where, tc.where) {
				t.Errorf("layers %v, want %v", where, tc.where)
			}
			var config []string
			for _, c := range res.Config {
				config = append(config, c.Field+" "+string(c.A)+" "+string(c.B))
			}
			if !equal(config, tc.config) {
				t.Errorf("config %q, want %q", config, tc.config)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package rewrite

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/testutil"
)

type ent = testutil.Entry

var (
	file     = testutil.File
	dir      = testutil.Dir
	symlink  = testutil.Symlink
	hardlink = testutil.Hardlink
	opaque   = testutil.Opaque
)

func whiteout(dir, name string) ent { return testutil.Whiteout(path.Join(dir, name)) }

func tarOf(t testing.TB, ents []ent) []byte { return testutil.Tar(t, ents...) }

func openers(tars [][]byte) []OpenFunc {
	var out []OpenFunc
	for _, b := range tars {
		b := b
		out = append(out, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	}
	return out
}

// applyAll extracts tars in order into a new directory, as a layer stack
// is unpacked, and returns a listing of the result.
func applyAll(t testing.TB, tars [][]byte) string {
	t.Helper()
	root := t.TempDir()
	for i, b := range tars {
		if _, err := layer.Apply(context.Background(), root, bytes.NewReader(b), layer.ApplyOptions{}); err != nil {
			t.Fatalf("apply layer %d: %v", i, err)
		}
	}
	return listing(t, root)
}

// listing describes a tree: each path's type, mode, content or link, and
// which paths share an inode (hard links). Directory times are left out:
// extraction sets them.
func listing(t testing.TB, root string) string {
	t.Helper()
	var lines []string
	inodes := map[uint64][]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			to, _ := os.Readlink(p)
			line += " -> " + to
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += " " + string(b)
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, names := range inodes {
		sort.Strings(names)
		lines = append(lines, "link group "+strings.Join(names, " "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func merged(t testing.TB, rng [][]byte, below [][]byte) ([]byte, error) {
	t.Helper()
	var tree *Tree
	if len(below) > 0 {
		var err error
		if tree, err = Visible(openers(below)); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	err := Merge(&out, openers(rng), tree)
	return out.Bytes(), err
}

func names(t testing.TB, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSuffix(hdr.Name, "/"))
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name      string
		below     [][]ent
		rng       [][]ent
		wantNames []string // the merged layer's entries, in order
	}{
		{
			name:      "overwritten file written once, last version",
			rng:       [][]ent{{dir("etc"), file("etc/a", "one")}, {file("etc/a", "two")}},
			wantNames: []string{"etc", "etc/a"},
		},
		{
			name:      "a secret added then deleted is in no entry",
			rng:       [][]ent{{dir("app"), file("app/secret", "key")}, {file("app/x", "x")}, {whiteout("app", "secret")}},
			wantNames: []string{"app", "app/x"},
		},
		{
			name:      "deleting what is below writes a whiteout",
			below:     [][]ent{{dir("etc"), file("etc/old", "o")}},
			rng:       [][]ent{{file("etc/new", "n")}, {whiteout("etc", "old")}},
			wantNames: []string{"etc/.wh.old", "etc/new"},
		},
		{
			name:      "deleting what the range added writes no whiteout",
			below:     [][]ent{{dir("etc")}},
			rng:       [][]ent{{file("etc/tmp", "t")}, {whiteout("etc", "tmp")}},
			wantNames: nil,
		},
		{
			name:      "a directory deleted and made again hides what below had in it",
			below:     [][]ent{{dir("d"), file("d/below", "b")}},
			rng:       [][]ent{{whiteout(".", "d")}, {dir("d"), file("d/new", "n")}},
			wantNames: []string{"d/.wh..wh..opq", "d", "d/new"},
		},
		{
			name:      "opaque directory over below",
			below:     [][]ent{{dir("d"), file("d/below", "b")}},
			rng:       [][]ent{{file("d/mid", "m")}, {dir("d"), opaque("d"), file("d/top", "t")}},
			wantNames: []string{"d/.wh..wh..opq", "d", "d/top"},
		},
		{
			name:      "a file replacing a directory hides its contents",
			rng:       [][]ent{{dir("x"), file("x/in", "i")}, {whiteout(".", "x"), file("x", "now a file")}},
			wantNames: []string{"x"},
		},
		{
			name:      "hard link to a file of the same layer",
			rng:       [][]ent{{file("a", "content"), hardlink("b", "a")}, {file("c", "c")}},
			wantNames: []string{"a", "b", "c"},
		},
		{
			name:      "symlinks are entries like any other",
			rng:       [][]ent{{symlink("l", "target1")}, {symlink("l", "target2")}},
			wantNames: []string{"l"},
		},
		{
			name:      "directory metadata of the last layer wins",
			rng:       [][]ent{{dir("d"), file("d/f", "f")}, {{Name: "d", Type: tar.TypeDir, Mode: 0o700}}},
			wantNames: []string{"d/f", "d"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var below, rng [][]byte
			for _, l := range tc.below {
				below = append(below, tarOf(t, l))
			}
			for _, l := range tc.rng {
				rng = append(rng, tarOf(t, l))
			}
			out, err := merged(t, rng, below)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(t, out); strings.Join(got, ",") != strings.Join(tc.wantNames, ",") {
				t.Errorf("entries %q, want %q", got, tc.wantNames)
			}
			want := applyAll(t, append(append([][]byte{}, below...), rng...))
			got := applyAll(t, append(append([][]byte{}, below...), out))
			if got != want {
				t.Errorf("the squashed stack differs:\n--- got\n%s\n--- want\n%s", got, want)
			}
			again, _ := merged(t, rng, below)
			if !bytes.Equal(out, again) {
				t.Error("two merges of the same layers differ")
			}
		})
	}
}

func TestMergeRefusesWhatItCannotKeep(t *testing.T) {
	tests := []struct {
		name string
		rng  [][]ent
		want error
	}{
		{"hard link whose target a later layer replaces", [][]ent{{file("a", "old"), hardlink("b", "a")}, {file("a", "new")}}, errLinkTarget},
		{"hard link whose target a later layer deletes", [][]ent{{file("a", "old"), hardlink("b", "a")}, {whiteout(".", "a")}}, errLinkTarget},
		{"bare whiteout", [][]ent{{file("d/.wh.", "")}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rng [][]byte
			for _, l := range tc.rng {
				rng = append(rng, tarOf(t, l))
			}
			_, err := merged(t, rng, nil)
			if err == nil {
				t.Fatal("merged without an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestMergeRandomStacks checks, over random stacks of layers and a random
// split point, that the stack below the split plus the merged layer
// unpacks to the same tree as the whole stack.
func TestMergeRandomStacks(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 60
	}
	refused := 0
	for seed := int64(0); seed < int64(rounds); seed++ {
		tars := randomStack(t, rand.New(rand.NewSource(seed)))
		split := int(seed) % len(tars)
		below, rng := tars[:split], tars[split:]
		out, err := merged(t, rng, below)
		if errors.Is(err, errLinkTarget) {
			refused++
			continue
		}
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		want := applyAll(t, tars)
		got := applyAll(t, append(append([][]byte{}, below...), out))
		if got != want {
			t.Fatalf("seed %d (split %d): the squashed stack differs:\n--- got\n%s\n--- want\n%s", seed, split, got, want)
		}
	}
	t.Logf("%d of %d refused", refused, rounds)
	if refused > rounds/4 {
		t.Fatalf("%d of %d stacks refused: the generator or the merge is off", refused, rounds)
	}
}

// randomStack makes 2-6 layers of adds, overwrites, deletes, opaque
// directories, symlinks and hard links over a few names, keeping a model
// of the tree so that every layer is one docker would apply.
func randomStack(t testing.TB, r *rand.Rand) [][]byte {
	kinds := map[string]byte{".": tar.TypeDir} // the model: path -> type
	of := func(kind byte) []string {           // the model's paths of a kind, sorted
		var out []string
		for p, k := range kinds {
			if k == kind {
				out = append(out, p)
			}
		}
		sort.Strings(out)
		return out
	}
	join := func(d, n string) string {
		if d == "." {
			return n
		}
		return d + "/" + n
	}
	removeTree := func(p string) {
		for q := range kinds {
			if q == p || strings.HasPrefix(q, p+"/") {
				delete(kinds, q)
			}
		}
	}
	var tars [][]byte
	for l := 0; l < 2+r.Intn(5); l++ {
		var ents []ent
		touched := map[string]bool{} // a path appears once per layer
		for op := 0; op < 1+r.Intn(6); op++ {
			ds := of(tar.TypeDir)
			d := ds[r.Intn(len(ds))]
			if touched[d] && d != "." {
				continue
			}
			p := join(d, string(rune('a'+r.Intn(4))))
			if touched[p] {
				continue
			}
			switch r.Intn(7) {
			case 0, 1: // a file (new or overwriting a file)
				if k, ok := kinds[p]; ok && k == tar.TypeDir {
					continue
				}
				ents = append(ents, ent{Name: p, Type: tar.TypeReg, Body: fmt.Sprint(r.Intn(1000)), Mode: []int64{0o644, 0o600, 0o755}[r.Intn(3)]})
				kinds[p] = tar.TypeReg
			case 2: // a directory
				if _, ok := kinds[p]; ok {
					continue
				}
				ents = append(ents, dir(p))
				kinds[p] = tar.TypeDir
			case 3: // a symlink
				if k, ok := kinds[p]; ok && k == tar.TypeDir {
					continue
				}
				ents = append(ents, symlink(p, "somewhere"))
				kinds[p] = tar.TypeSymlink
			case 4: // delete what is there
				if _, ok := kinds[p]; !ok || touchedUnder(touched, p) {
					continue // a whiteout hides only lower layers' files (image-spec)
				}
				ents = append(ents, whiteout(d, p[strings.LastIndex(p, "/")+1:]))
				removeTree(p)
			case 5: // an opaque directory
				if kinds[p] != tar.TypeDir || touchedUnder(touched, p) {
					continue
				}
				ents = append(ents, dir(p), opaque(p))
				for q := range kinds {
					if strings.HasPrefix(q, p+"/") {
						delete(kinds, q)
					}
				}
			case 6: // a hard link to a file of this layer (the only target docker and strata take)
				var fs []string
				for _, f := range of(tar.TypeReg) {
					if touched[f] {
						fs = append(fs, f)
					}
				}
				if len(fs) == 0 {
					continue
				}
				if _, ok := kinds[p]; ok {
					continue
				}
				ents = append(ents, hardlink(p, fs[r.Intn(len(fs))]))
				kinds[p] = tar.TypeReg
			}
			touched[p] = true
		}
		tars = append(tars, tarOf(t, ents))
	}
	return tars
}

func touchedUnder(touched map[string]bool, p string) bool {
	for q := range touched {
		if q == p || strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	return false
}

// FuzzMerge feeds arbitrary bytes as layers: a bad tar is an error, never
// a panic, and a merge that succeeds writes a tar that reads back.
func FuzzMerge(f *testing.F) {
	f.Add(tarOf(f, []ent{dir("d"), file("d/a", "x")}), tarOf(f, []ent{whiteout("d", "a"), opaque("d")}))
	f.Add([]byte("not a tar"), []byte{})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		below, err := Visible(openers([][]byte{a}))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Merge(&out, openers([][]byte{a, b}), below); err != nil {
			return
		}
		names(t, out.Bytes())
	})
}

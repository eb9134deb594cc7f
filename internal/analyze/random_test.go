package analyze

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"math/rand"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/strata-dev/strata/internal/testutil"
)

// randomImage makes layers over a small namespace, so that paths collide
// across and within layers: files (a few contents, some big enough to be
// lazy), directories, links, whiteouts, opaque markers, repeated entries.
// A third of the layers are gzipped (not seekable).
func randomImage(t testing.TB, r *rand.Rand) *plan {
	dirs := []string{"", "a/", "b/", "a/c/", "a/d/", "b/e/", "a/c/f/"}
	names := []string{"x", "y", "z", "w", "c", "d", "e"}
	bodies := []string{"", "1", "22", "333", "hello", "world", x("q", 700), x("r", 700)}
	im := &plan{Name: "random"}
	for range 1 + r.Intn(5) {
		var es []testutil.Entry
		for range r.Intn(14) {
			d, n := dirs[r.Intn(len(dirs))], names[r.Intn(len(names))]
			switch k := r.Intn(20); {
			case k < 3:
				es = append(es, testutil.Entry{Name: d + n + "/", Type: tar.TypeDir})
			case k < 11:
				es = append(es, testutil.Entry{Name: d + n, Body: bodies[r.Intn(len(bodies))], Type: tar.TypeReg, Mode: int64(0o600 + r.Intn(2))})
			case k < 12:
				es = append(es, testutil.Entry{Name: d + n, Link: names[r.Intn(len(names))], Type: tar.TypeSymlink})
			case k < 15:
				es = append(es, testutil.Entry{Name: d + whiteoutPrefix + n, Type: tar.TypeReg})
			case k < 16:
				es = append(es, testutil.Entry{Name: d + opaqueMarker, Type: tar.TypeReg})
			case k < 17:
				if r.Intn(4) == 0 {
					es = append(es, testutil.Entry{Name: d + n, Body: x(string(rune('a'+r.Intn(2))), lazyMin+r.Intn(2)), Type: tar.TypeReg})
				}
			case k < 18 && len(es) > 0:
				es = append(es, es[r.Intn(len(es))])
			default:
				es = append(es, testutil.Entry{Name: d + n, Body: bodies[r.Intn(len(bodies))], Type: tar.TypeReg})
			}
		}
		b := testutil.Tar(t, es...)
		l := planLayer{Digest: "sha256:0", Size: int64(len(b)), Open: opener(b)}
		if r.Intn(3) == 0 {
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(b)
			zw.Close()
			z := gz.Bytes()
			l.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(z)), nil }
		}
		im.Layers = append(im.Layers, l)
	}
	return im
}

// TestRandomImages: with or without KeepChanges (the analyzer then visits
// a layer's tree in different orders), the figures and the trees are the
// same, and every file change is in the changes.
func TestRandomImages(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 50
	}
	for seed := range n {
		im := randomImage(t, rand.New(rand.NewSource(int64(seed))))
		full, err := analyzePlan(im, Options{UpTo: -1, KeepChanges: true})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		plain, err := analyzePlan(im, Options{UpTo: -1})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for i := range full.Layers {
			l := full.Layers[i]
			files := int64(0)
			for _, c := range l.Changes {
				if !c.Dir {
					files++
				}
			}
			if want := l.Added.Files + l.Modified.Files + l.Removed.Files; files != want {
				t.Errorf("seed %d layer %d: %d file changes listed, counts say %d", seed, i, files, want)
			}
			full.Layers[i].Changes = nil
		}
		fj, _ := json.Marshal(full)
		pj, _ := json.Marshal(plain)
		if !bytes.Equal(fj, pj) {
			t.Errorf("seed %d: with KeepChanges\n%s\nwithout\n%s", seed, fj, pj)
		}
		for k := range im.Layers {
			var trees [2]strings.Builder
			for j, keep := range []bool{false, true} {
				r, err := analyzePlan(im, Options{UpTo: k, KeepChanges: keep})
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				WriteTree(&trees[j], r, TreeImage)
				WriteTree(&trees[j], r, TreeLayer)
			}
			if trees[0].String() != trees[1].String() {
				t.Errorf("seed %d layer %d: trees differ with KeepChanges:\n%s\n%s", seed, k, trees[0].String(), trees[1].String())
			}
		}
	}
}

package rewrite

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// app is a four-layer image: a base, an application, a secret added and a
// later layer that deletes it (and a file of the base).
func app(t *testing.T, st *store.Store) *metadata.Image {
	F, D := testutil.File, func(name string) testutil.Entry { return testutil.Dir(name + "/") }
	return storetest.Image(t, st, nil, "app:1",
		testutil.Tar(t, D("etc"), F("etc/os-release", "base"), F("etc/motd", "hello"), D("bin"), F("bin/sh", "sh")),
		testutil.Tar(t, D("app"), F("app/main", "v1")),
		testutil.Tar(t, F("app/secret.key", "TOP SECRET"), F("app/main", "v2")),
		testutil.Tar(t, F("app/.wh.secret.key", ""), F("etc/.wh.motd", ""), F("app/config", "c")),
	)
}

// rootfs unpacks an image's layers and lists the result.
func rootfs(t *testing.T, st *store.Store, im *metadata.Image) string {
	t.Helper()
	src := storetest.Source(t, st, im)
	dir := t.TempDir()
	for _, l := range src.Layers() {
		rc, err := src.OpenBlob(context.Background(), l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		dr, _, err := layer.Decompress(rc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := layer.Apply(context.Background(), dir, dr, layer.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		dr.Close()
		rc.Close()
	}
	return listing(t, dir)
}

// blobsContain reports whether any layer blob of im holds s.
func blobsContain(t *testing.T, st *store.Store, im *metadata.Image, s string) bool {
	t.Helper()
	src := storetest.Source(t, st, im)
	for _, l := range src.Layers() {
		rc, err := src.OpenBlob(context.Background(), l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		dr, _, _ := layer.Decompress(rc)
		b, err := io.ReadAll(dr)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

func TestSquash(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		from       int
		wantLayers int
		// wantEntries are the squashed layer's tar entries.
		wantEntries []string
	}{
		{"all layers", 0, 1, []string{"etc/", "etc/os-release", "bin/", "bin/sh", "app/", "app/main", "app/config"}},
		{"above the base", 1, 2, []string{"etc/.wh.motd", "app/", "app/main", "app/config"}},
		{"only the top", 3, 4, []string{"app/.wh.secret.key", "etc/.wh.motd", "app/config"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			orig := app(t, st)
			ref, _ := image.ParseTagged("app:squashed")
			sq, err := Squash(context.Background(), st, storetest.Source(t, st, orig), SquashOptions{
				From: tc.from, Message: "one layer", Names: []image.Reference{ref}, Created: &created,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(sq.Layers) != tc.wantLayers {
				t.Fatalf("%d layers, want %d", len(sq.Layers), tc.wantLayers)
			}
			for i := 0; i < tc.from; i++ {
				if sq.Layers[i].Digest != orig.Layers[i].Digest {
					t.Errorf("layer %d below the range was rewritten", i)
				}
			}
			if got, want := rootfs(t, st, sq), rootfs(t, st, orig); got != want {
				t.Fatalf("squashed root filesystem differs:\n--- got\n%s\n--- want\n%s", got, want)
			}
			if tc.from <= 2 && blobsContain(t, st, sq, "TOP SECRET") {
				t.Error("the deleted secret is still in a layer of the squashed image")
			}
			if got := entries(t, st, sq.Layers[len(sq.Layers)-1].Digest); strings.Join(got, " ") != strings.Join(tc.wantEntries, " ") {
				t.Errorf("squashed layer entries %q, want %q", got, tc.wantEntries)
			}
			cfg, _, err := st.Config(sq)
			if err != nil {
				t.Fatal(err)
			}
			h := cfg.History
			if len(h) != 5 || h[4].CreatedBy != SquashedBy || h[4].Comment != "one layer" || h[4].EmptyLayer {
				t.Fatalf("history %+v: want the 4 originals and the squash", h)
			}
			for i := 0; i < 4; i++ {
				if h[i].EmptyLayer != (i >= tc.from) || h[i].CreatedBy != "layer "+string(rune('0'+i)) {
					t.Errorf("history entry %d: %+v", i, h[i])
				}
			}
			if got, err := st.Resolve("app:squashed"); err != nil || got.ID != sq.ID {
				t.Fatalf("app:squashed resolves to %v, %v", got, err)
			}
			// The same input gives the same image.
			again, err := Squash(context.Background(), st, storetest.Source(t, st, orig), SquashOptions{From: tc.from, Message: "one layer", Created: &created})
			if err != nil || again.ID != sq.ID {
				t.Fatalf("second squash: %v, %v; want the same image %s", again.ID, err, sq.ID)
			}
			if r, err := st.Fsck(); err != nil || len(r.Problems) > 0 {
				t.Fatalf("fsck: %v %v", r.Problems, err)
			}
		})
	}
}

func TestSquashRefuses(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	orig := app(t, st)
	before, _ := st.Images()
	for _, from := range []int{-1, 4, 10} {
		if _, err := Squash(context.Background(), st, storetest.Source(t, st, orig), SquashOptions{From: from}); err == nil {
			t.Errorf("--from %d accepted for a 4-layer image", from)
		}
	}
	if after, _ := st.Images(); len(after) != len(before) {
		t.Fatalf("a refused squash added an image")
	}
}

func entries(t *testing.T, st *store.Store, d interface{ String() string }) []string {
	t.Helper()
	var out []string
	im, _ := st.Resolve("app:squashed")
	src := storetest.Source(t, st, im)
	for _, l := range src.Layers() {
		if l.Digest.String() != d.String() {
			continue
		}
		rc, err := src.OpenBlob(context.Background(), l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		dr, _, _ := layer.Decompress(rc)
		tr := tar.NewReader(dr)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, hdr.Name)
		}
	}
	return out
}

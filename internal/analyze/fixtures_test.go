package analyze

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
)

// f is a tar entry of a test layer: a name ending in "/" is a directory;
// ".wh." names are whiteouts (empty regular files, as docker writes them).
type f struct {
	name string
	body string
	mode int64
	uid  int
}

func tarOf(t testing.TB, files ...f) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range files {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag = tar.TypeDir
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func x(c string, n int) string { return strings.Repeat(c, n) }

// fixture is a test image with known answers. The dive figures were worked
// out by hand from dive's definition, and checked against dive itself by
// bench/analyze_bench.sh (STRATA_ANALYZE_EXPORT writes them as
// docker-archives).
type fixture struct {
	name   string
	layers [][]f

	size, user     int64
	effNum, effDen int64 // efficiency = effNum / effDen
	wasted         int64

	copies   int64 // our wasted copy bytes
	metaOnly []int
	dupBytes int64
	perLayer []string // "added/modified/removed" file counts per layer
	wastedBy []int64  // per layer
}

var fixtures = []fixture{
	{
		name: "added-then-deleted",
		layers: [][]f{
			{{name: "a/"}, {name: "a/big", body: x("x", 1000)}, {name: "keep", body: x("k", 10)}},
			{{name: "a/"}, {name: "a/.wh.big"}},
		},
		size: 1010, user: 0, effNum: 10, effDen: 1010, wasted: 1000,
		copies: 1000, perLayer: []string{"2/0/0", "0/0/1"}, wastedBy: []int64{1000, 0},
	},
	{
		name: "chmod-tree",
		layers: [][]f{
			{{name: "t/"}, {name: "t/f1", body: x("a", 100)}, {name: "t/f2", body: x("b", 200)}, {name: "t/sub/"}, {name: "t/sub/f3", body: x("c", 300)}},
			{{name: "t/", mode: 0o700}, {name: "t/f1", body: x("a", 100), mode: 0o600}, {name: "t/f2", body: x("b", 200), uid: 1000},
				{name: "t/sub/", mode: 0o700}, {name: "t/sub/f3", body: x("c", 300), mode: 0o600}},
		},
		size: 1200, user: 600, effNum: 600, effDen: 1200, wasted: 1200,
		copies: 600, metaOnly: []int{1}, dupBytes: 600, perLayer: []string{"3/0/0", "0/3/0"}, wastedBy: []int64{600, 0},
	},
	{
		name: "overwritten-twice",
		layers: [][]f{
			{{name: "f", body: x("1", 10)}},
			{{name: "f", body: x("2", 20)}},
			{{name: "f", body: x("3", 30)}},
		},
		size: 60, user: 50, effNum: 10, effDen: 60, wasted: 60,
		copies: 30, perLayer: []string{"1/0/0", "0/1/0", "0/1/0"}, wastedBy: []int64{10, 20, 0},
	},
	{
		// dive ignores opaque markers: it sees no waste in layer 1, and sizes
		// layer 2's whiteout of d with the files the marker hid.
		name: "opaque-dir",
		layers: [][]f{
			{{name: "d/"}, {name: "d/x", body: x("x", 50)}, {name: "d/y", body: x("y", 70)}, {name: "e", body: x("e", 5)}},
			{{name: "d/"}, {name: "d/.wh..wh..opq"}, {name: "d/z", body: x("z", 9)}},
			{{name: ".wh.d"}},
		},
		size: 134, user: 9, effNum: 263, effDen: 263, wasted: 0,
		copies: 129, perLayer: []string{"3/0/0", "1/0/2", "0/0/1"}, wastedBy: []int64{120, 9, 0},
	},
	{
		// The whiteout's parents have no entries: dive makes them zero-size
		// non-directories, so its later whiteout of b removes 0 bytes.
		name: "whiteout-implied-parents",
		layers: [][]f{
			{{name: "b/"}, {name: "b/c/"}, {name: "b/c/f", body: x("f", 40)}, {name: "g", body: x("g", 3)}},
			{{name: "b/c/.wh.f"}, {name: "h", body: x("h", 4)}},
			{{name: ".wh.b"}},
		},
		size: 47, user: 4, effNum: 7, effDen: 47, wasted: 40,
		copies: 40, perLayer: []string{"2/0/0", "1/0/1", "0/0/0"}, wastedBy: []int64{40, 0, 0},
	},
	{
		// dive stops visiting a layer at a whiteout of a path it lacks: "zz"
		// sorts after ".wh.nothere" and never counts. The whiteout itself leaves
		// dive an entry with no version and a least size of -1: 7/8.
		name: "whiteout-missing",
		layers: [][]f{
			{{name: "a", body: x("a", 8)}},
			{{name: ".wh.nothere"}, {name: "zz", body: x("z", 16)}, {name: "a", body: x("b", 8)}},
		},
		size: 32, user: 24, effNum: 7, effDen: 8, wasted: 0,
		copies: 8, perLayer: []string{"1/0/0", "1/1/0"}, wastedBy: []int64{8, 0},
	},
}

// build stores a fixture as an image of a fresh store.
func (fx fixture) build(t testing.TB) (*store.Store, *Image) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var tars [][]byte
	for _, l := range fx.layers {
		tars = append(tars, tarOf(t, l...))
	}
	rec := storetest.Image(t, st, nil, fx.name+":latest", tars...)
	src, err := st.ImageSource(rec, fx.name)
	if err != nil {
		t.Fatal(err)
	}
	im := plan(context.Background(), src)
	if dir := os.Getenv("STRATA_ANALYZE_EXPORT"); dir != "" {
		exportDockerArchive(t, filepath.Join(dir, fx.name+".tar"), fx.name, tars)
	}
	return st, im
}

// exportDockerArchive writes layer tars as a docker-archive (docker 20.10
// layout) so that dive can check the fixtures' figures.
func exportDockerArchive(t testing.TB, path, name string, tars [][]byte) {
	t.Helper()
	var diffIDs, layerPaths []string
	var hist []map[string]string
	for i, l := range tars {
		diffIDs = append(diffIDs, fmt.Sprintf("sha256:%x", sha256.Sum256(l)))
		layerPaths = append(layerPaths, fmt.Sprintf("%x/layer.tar", sha256.Sum256(l)))
		hist = append(hist, map[string]string{"created_by": fmt.Sprintf("layer %d", i)})
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}, "history": hist})
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{name + ":latest"}, "Layers": layerPaths}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	put := func(n string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Size: int64(len(b)), Mode: 0o644})
		tw.Write(b)
	}
	seen := map[string]bool{}
	for i, l := range tars {
		if !seen[layerPaths[i]] {
			seen[layerPaths[i]] = true
			put(layerPaths[i], l)
		}
	}
	put(cfgName, cfg)
	put("manifest.json", man)
	tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

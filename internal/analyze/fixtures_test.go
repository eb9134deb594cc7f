package analyze

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func x(c string, n int) string { return strings.Repeat(c, n) }

// fixture is a test image with known answers. The dive figures were worked
// out by hand from dive's definition, and checked against dive itself by
// bench/analyze_bench.sh (STRATA_ANALYZE_EXPORT writes them as
// docker-archives).
type fixture struct {
	name   string
	layers [][]testutil.Entry

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
		layers: [][]testutil.Entry{
			{{Name: "a/"}, {Name: "a/big", Body: x("x", 1000)}, {Name: "keep", Body: x("k", 10)}},
			{{Name: "a/"}, {Name: "a/.wh.big"}},
		},
		size: 1010, user: 0, effNum: 10, effDen: 1010, wasted: 1000,
		copies: 1000, perLayer: []string{"2/0/0", "0/0/1"}, wastedBy: []int64{1000, 0},
	},
	{
		name: "chmod-tree",
		layers: [][]testutil.Entry{
			{{Name: "t/"}, {Name: "t/f1", Body: x("a", 100)}, {Name: "t/f2", Body: x("b", 200)}, {Name: "t/sub/"}, {Name: "t/sub/f3", Body: x("c", 300)}},
			{{Name: "t/", Mode: 0o700}, {Name: "t/f1", Body: x("a", 100), Mode: 0o600}, {Name: "t/f2", Body: x("b", 200), UID: 1000},
				{Name: "t/sub/", Mode: 0o700}, {Name: "t/sub/f3", Body: x("c", 300), Mode: 0o600}},
		},
		size: 1200, user: 600, effNum: 600, effDen: 1200, wasted: 1200,
		copies: 600, metaOnly: []int{1}, dupBytes: 600, perLayer: []string{"3/0/0", "0/3/0"}, wastedBy: []int64{600, 0},
	},
	{
		name: "overwritten-twice",
		layers: [][]testutil.Entry{
			{{Name: "f", Body: x("1", 10)}},
			{{Name: "f", Body: x("2", 20)}},
			{{Name: "f", Body: x("3", 30)}},
		},
		size: 60, user: 50, effNum: 10, effDen: 60, wasted: 60,
		copies: 30, perLayer: []string{"1/0/0", "0/1/0", "0/1/0"}, wastedBy: []int64{10, 20, 0},
	},
	{
		// dive ignores opaque markers: it sees no waste in layer 1, and sizes
		// layer 2's whiteout of d with the files the marker hid.
		name: "opaque-dir",
		layers: [][]testutil.Entry{
			{{Name: "d/"}, {Name: "d/x", Body: x("x", 50)}, {Name: "d/y", Body: x("y", 70)}, {Name: "e", Body: x("e", 5)}},
			{{Name: "d/"}, {Name: "d/.wh..wh..opq"}, {Name: "d/z", Body: x("z", 9)}},
			{{Name: ".wh.d"}},
		},
		size: 134, user: 9, effNum: 263, effDen: 263, wasted: 0,
		copies: 129, perLayer: []string{"3/0/0", "1/0/2", "0/0/1"}, wastedBy: []int64{120, 9, 0},
	},
	{
		// The whiteout's parents have no entries: dive makes them zero-size
		// non-directories, so its later whiteout of b removes 0 bytes.
		name: "whiteout-implied-parents",
		layers: [][]testutil.Entry{
			{{Name: "b/"}, {Name: "b/c/"}, {Name: "b/c/f", Body: x("f", 40)}, {Name: "g", Body: x("g", 3)}},
			{{Name: "b/c/.wh.f"}, {Name: "h", Body: x("h", 4)}},
			{{Name: ".wh.b"}},
		},
		size: 47, user: 4, effNum: 7, effDen: 47, wasted: 40,
		copies: 40, perLayer: []string{"2/0/0", "1/0/1", "0/0/0"}, wastedBy: []int64{40, 0, 0},
	},
	{
		// dive stops visiting a layer at a whiteout of a path it lacks: "zz"
		// sorts after ".wh.nothere" and never counts. The whiteout itself leaves
		// dive an entry with no version and a least size of -1: 7/8.
		name: "whiteout-missing",
		layers: [][]testutil.Entry{
			{{Name: "a", Body: x("a", 8)}},
			{{Name: ".wh.nothere"}, {Name: "zz", Body: x("z", 16)}, {Name: "a", Body: x("b", 8)}},
		},
		size: 32, user: 24, effNum: 7, effDen: 8, wasted: 0,
		copies: 8, perLayer: []string{"1/0/0", "1/1/0"}, wastedBy: []int64{8, 0},
	},
}

// build stores a fixture as an image of a fresh store.
func (fx fixture) build(t testing.TB) (*store.Store, *plan) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var tars [][]byte
	for _, l := range fx.layers {
		tars = append(tars, testutil.Tar(t, l...))
	}
	rec := storetest.Image(t, st, nil, fx.name+":latest", tars...)
	src, err := st.ImageSource(rec, fx.name)
	if err != nil {
		t.Fatal(err)
	}
	im := planOf(context.Background(), src)
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
	var entries []testutil.Entry
	seen := map[string]bool{}
	for i, l := range tars {
		if !seen[layerPaths[i]] {
			seen[layerPaths[i]] = true
			entries = append(entries, testutil.File(layerPaths[i], string(l)))
		}
	}
	entries = append(entries, testutil.File(cfgName, string(cfg)), testutil.File("manifest.json", string(man)))
	if err := os.WriteFile(path, testutil.Tar(t, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
}

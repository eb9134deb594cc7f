package buildctx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-dev/strata/internal/builder/dockerignore"
)

// TestParallelWalkKeepsOrder: the walk of the directories below the top
// on several goroutines passes the same entries in the same order as one
// goroutine, .dockerignore exclusions and re-inclusions included.
func TestParallelWalkKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/x/1", "a/x/2", "a/y", "b/keep.log", "b/drop.log", "b/c/d/e", "c", "d/sub/f", "e/only.txt", "f-g/h"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(p), 0o644)
	}
	ignore, err := dockerignore.New([]string{"b/*.log", "!b/keep.log", "d", "!d/sub/f"})
	if err != nil {
		t.Fatal(err)
	}
	f := &FS{Root: dir, Ignore: ignore}
	root, err := f.Lstat("")
	if err != nil {
		t.Fatal(err)
	}
	walk := func(par int) []string {
		var got []string
		err := f.walk(root.Rel, "", dockerignore.State{}, dockerignore.State{}, nil, func(e *Entry, sub string) error {
			got = append(got, sub)
			return nil
		}, par)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	one := walk(0)
	if !slices.Contains(one, "b/keep.log") || slices.Contains(one, "b/drop.log") || !slices.Contains(one, "d/sub/f") || slices.Contains(one, "d/x") {
		t.Fatalf("the one-goroutine walk: %v", one)
	}
	for range 20 {
		if got := walk(4); !slices.Equal(got, one) {
			t.Fatalf("parallel walk:\n%v\nwant\n%v", got, one)
		}
	}
}

package archive_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/archive/archivetest"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// archiveSeeds are archives of every format strata reads, and garbage.
func archiveSeeds(f *testing.F) [][]byte {
	st := newStore(f)
	im := twoLayers(f, st, layer.Gzip, "strata-test/fuzz:1")
	var out [][]byte
	for _, fm := range []archive.Format{archive.OCIArchive, archive.DockerArchive} {
		var b bytes.Buffer
		if err := archive.Save(context.Background(), &b, []archive.SaveImage{{Source: storetest.Source(f, st, im), Names: refs(f, "strata-test/fuzz:1")}}, fm); err != nil {
			f.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	legacy, _ := archivetest.LegacyArchive(f, []archivetest.LegacyImage{{RepoTags: []string{"x:1"}, Layers: [][]byte{testutil.Tar(f, testutil.Entry{Name: "a", Body: "a"})}}})
	return append(out, legacy, []byte{}, []byte("\x1f\x8b garbage"))
}

// FuzzOpen: an archive file of any content (what analyze, image diff and
// squash read as docker-archive: or oci-archive:) opens or fails, and every
// image it gives reads its layers or fails with an error, never a panic.
func FuzzOpen(f *testing.F) {
	for _, b := range archiveSeeds(f) {
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "a.tar")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := archive.Open(p)
		if err != nil {
			return
		}
		defer a.Close()
		for _, src := range a.Images() {
			for _, l := range src.Layers() {
				rc, err := src.OpenBlob(context.Background(), l.Digest)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
				rc.Close()
			}
		}
	})
}

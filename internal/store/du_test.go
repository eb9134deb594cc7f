package store_test

import (
	"bytes"
	"compress/gzip"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/testutil"
)

// TestImportAndDiskUsage: Import stores the tarball as one layer (a gzip
// one as it came), applies the changes and names the image; DiskUsage
// splits each image's size into the layers it shares (the same tarball
// imported twice) and the layers only it has.
func TestImportAndDiskUsage(t *testing.T) {
	st := open(t)
	shared := testutil.Tar(t, testutil.File("shared", "one layer, two images"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(testutil.Tar(t, testutil.File("own", "only this image")))
	zw.Close()

	name, err := image.ParseTagged("imported:1")
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.Import(bytes.NewReader(shared), store.ImportOptions{Changes: []string{"ENV A=1"}, Names: []image.Reference{name}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.Import(bytes.NewReader(shared), store.ImportOptions{Message: "again"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Import(&gz, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The shared tarball once more, gzip-compressed: another blob of the
	// same layer (a pulled image and a loaded one), unpacked once.
	var gzShared bytes.Buffer
	zw = gzip.NewWriter(&gzShared)
	zw.Write(shared)
	zw.Close()
	d, err := st.Import(&gzShared, store.ImportOptions{Message: "compressed"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Layers[0].Digest == a.Layers[0].Digest || d.Layers[0].DiffID != a.Layers[0].DiffID {
		t.Fatalf("the gzip import is layer %s (diffID %s), the plain one %s (%s)", d.Layers[0].Digest, d.Layers[0].DiffID, a.Layers[0].Digest, a.Layers[0].DiffID)
	}
	cfg, _, err := st.Config(a)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.Resolve("imported:1"); err != nil || got.ID != a.ID {
		t.Errorf("imported:1 resolves to %v, %v; want %s", got, err, a.ID)
	}
	if len(cfg.Config.Env) != 1 || cfg.Config.Env[0] != "A=1" || cfg.Comment != "Imported from -" {
		t.Errorf("config env %q comment %q", cfg.Config.Env, cfg.Comment)
	}
	if len(c.Layers) != 1 || c.Layers[0].MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Errorf("a gzip tarball gave layers %+v, want it stored as gzip", c.Layers)
	}

	du, err := st.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	// Sizes are what the layers unpack to (docker's): the files' lengths.
	sharedSize, ownSize := int64(len("one layer, two images")), int64(len("only this image"))
	for name, c := range map[string]struct {
		got, want store.ImageUsage
	}{
		"first import of the shared tarball":  {du.PerImage[a.ID], store.ImageUsage{Size: sharedSize, Shared: sharedSize}},
		"second import of the shared tarball": {du.PerImage[b.ID], store.ImageUsage{Size: sharedSize, Shared: sharedSize}},
		"the shared tarball compressed":       {du.PerImage[d.ID], store.ImageUsage{Size: sharedSize, Shared: sharedSize}},
		"image with its own layer":            {du.PerImage[c.ID], store.ImageUsage{Size: ownSize, Unique: ownSize}},
	} {
		if c.got != c.want {
			t.Errorf("%s: %+v, want %+v", name, c.got, c.want)
		}
	}
	if du.Images != 4 || du.ActiveImages != 0 || du.ImagesSize != sharedSize+ownSize || du.Reclaimable != du.ImagesSize {
		t.Errorf("images %d active %d size %d reclaimable %d; want 4, 0, %d, all", du.Images, du.ActiveImages, du.ImagesSize, du.Reclaimable, sharedSize+ownSize)
	}
	if du.Containers != 0 || du.CacheRecords != 0 || du.KeptLayers != 0 || du.BlobBytes <= 0 {
		t.Errorf("containers %d cache %d kept %d blob bytes %d", du.Containers, du.CacheRecords, du.KeptLayers, du.BlobBytes)
	}
}

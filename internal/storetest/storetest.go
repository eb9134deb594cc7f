// Package storetest makes images with known contents for tests: layer tars
// (written with testutil.Tar) added to a store through the same calls import
// and build use.
package storetest

import (
	"bytes"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// Created is the creation time of the images Image makes, fixed so that
// their IDs and printed ages are the same in every run.
var Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// AddLayer stores a layer tar and returns its record.
func AddLayer(t testing.TB, st *store.Store, tarball []byte) metadata.Layer {
	t.Helper()
	b, err := layer.Ingest(st.Content, bytes.NewReader(tarball), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.IngestLayer(b, store.LayerMediaType(b.Compression))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// Image adds an image of the given layer tars on top of parent (nil: from
// scratch), named name when not empty. createdBy labels each layer's
// history entry "layer N".
func Image(t testing.TB, st *store.Store, parent *metadata.Image, name string, layers ...[]byte) *metadata.Image {
	t.Helper()
	return addImage(t, st, store.NewImageOptions{Parent: parent}, name, layers)
}

// PlatformImage is Image from scratch for a platform ("linux/arm64",
// "linux/arm/v7"), which its config states instead of this machine's.
func PlatformImage(t testing.TB, st *store.Store, name, platform string, layers ...[]byte) *metadata.Image {
	t.Helper()
	p, err := image.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	return addImage(t, st, store.NewImageOptions{Config: func(c *image.ConfigFile) error {
		c.OS, c.Architecture, c.Variant = p.OS, p.Architecture, p.Variant
		return nil
	}}, name, layers)
}

// ConfigImage is Image from scratch whose config fn changes first.
func ConfigImage(t testing.TB, st *store.Store, name string, fn func(c *image.ConfigFile), layers ...[]byte) *metadata.Image {
	t.Helper()
	return addImage(t, st, store.NewImageOptions{Config: func(c *image.ConfigFile) error {
		fn(c)
		return nil
	}}, name, layers)
}

// UncheckedImage is Image from scratch with layers stored as plain blobs,
// past the entry checks of every entering layer: an image stored before
// those checks existed, for analyze and fsck to report.
func UncheckedImage(t testing.TB, st *store.Store, name string, layers ...[]byte) *metadata.Image {
	t.Helper()
	var o store.NewImageOptions
	for i, l := range layers {
		d, n, err := st.PutBlob(bytes.NewReader(l), "", -1)
		if err != nil {
			t.Fatal(err)
		}
		rec := metadata.Layer{Digest: d, DiffID: d, Size: n, UncompressedSize: n, ContentSize: -1, MediaType: ocispec.MediaTypeImageLayer}
		if err := st.PutLayerRecord(rec); err != nil {
			t.Fatal(err)
		}
		o.Steps = append(o.Steps, store.NewLayer{Blob: &rec, History: ocispec.History{CreatedBy: "layer " + string(rune('0'+i))}})
	}
	return addImage(t, st, o, name, nil)
}

// addImage stores layers and commits an image of them with o.
func addImage(t testing.TB, st *store.Store, o store.NewImageOptions, name string, layers [][]byte) *metadata.Image {
	t.Helper()
	for i, l := range layers {
		rec := AddLayer(t, st, l)
		o.Steps = append(o.Steps, store.NewLayer{Blob: &rec, History: ocispec.History{CreatedBy: "layer " + string(rune('0'+i))}})
	}
	o.Created = &Created
	if name != "" {
		r, err := image.ParseTagged(name)
		if err != nil {
			t.Fatal(err)
		}
		o.Names = []image.Reference{r}
	}
	im, err := st.NewImage(o)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// Source opens a stored image as an image.Source, closed
// when the test ends.
func Source(t testing.TB, st *store.Store, im *metadata.Image) image.Source {
	t.Helper()
	src, err := st.ImageSource(im, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

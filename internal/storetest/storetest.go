// Package storetest makes images with known contents for tests: layers
// written as tars in memory and added to a store through the same calls
// import and build use.
package storetest

import (
	"archive/tar"
	"bytes"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// File is one tar entry. A name ending in "/" is a directory; Link makes a
// symlink; a ".wh." basename is a whiteout.
type File struct {
	Name string
	Body string
	Mode int64
	Link string
}

// Tar writes files as an uncompressed layer tar.
func Tar(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		switch {
		case f.Link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Link
		case len(f.Name) > 0 && f.Name[len(f.Name)-1] == '/':
			h.Typeflag = tar.TypeDir
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(f.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

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
	var steps []store.NewLayer
	for i, l := range layers {
		rec := AddLayer(t, st, l)
		steps = append(steps, store.NewLayer{Blob: &rec, History: ocispec.History{CreatedBy: "layer " + string(rune('0'+i))}})
	}
	o := store.NewImageOptions{Parent: parent, Steps: steps, Created: &Created}
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

// PlatformImage is Image from scratch for a platform ("linux/arm64",
// "linux/arm/v7"), which its config states instead of this machine's.
func PlatformImage(t testing.TB, st *store.Store, name, platform string, layers ...[]byte) *metadata.Image {
	t.Helper()
	p, err := image.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	var steps []store.NewLayer
	for i, l := range layers {
		rec := AddLayer(t, st, l)
		steps = append(steps, store.NewLayer{Blob: &rec, History: ocispec.History{CreatedBy: "layer " + string(rune('0'+i))}})
	}
	o := store.NewImageOptions{Steps: steps, Created: &Created, Config: func(c *image.ConfigFile) error {
		c.OS, c.Architecture, c.Variant = p.OS, p.Architecture, p.Variant
		return nil
	}}
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

// Package archivetest makes small test images and archives for the tests
// of save and load, from entries written with testutil.Tar.
package archivetest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/testutil"
)

// Created is the fixed creation time of test images.
var Created = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// AddLayer stores a layer made of files, compressed with c.
func AddLayer(t testing.TB, st *store.Store, files []testutil.Entry, c layer.Compression) metadata.Layer {
	t.Helper()
	raw := testutil.Tar(t, files...)
	var b bytes.Buffer
	w, err := layer.NewWriter(&b, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	w.Close()
	blob, err := layer.Ingest(st.Content, &b, "", -1)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.IngestLayer(blob, store.LayerMediaType(blob.Compression))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// Image adds an image made of the given layers (bottom first) with names.
func Image(t testing.TB, st *store.Store, parent *metadata.Image, layers []metadata.Layer, names ...string) *metadata.Image {
	t.Helper()
	var refs []image.Reference
	for _, n := range names {
		r, err := image.ParseTagged(n)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	var steps []store.NewLayer
	for i := range layers {
		steps = append(steps, store.NewLayer{Blob: &layers[i], History: ocispec.History{CreatedBy: "test layer"}})
	}
	created := Created
	im, err := st.NewImage(store.NewImageOptions{Parent: parent, Steps: steps, Names: refs, Created: &created,
		Config: func(c *image.ConfigFile) error {
			c.Config.Cmd = []string{"/bin/sh"}
			c.Config.Env = []string{"PATH=/bin"}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// BusyboxImage stores a one-layer busybox image, its layer compressed with c.
func BusyboxImage(t testing.TB, st *store.Store, c layer.Compression, names ...string) *metadata.Image {
	t.Helper()
	return Image(t, st, nil, []metadata.Layer{AddLayer(t, st, testutil.BusyboxRootfs(t), c)}, names...)
}

// LegacyImage is an image as docker 20.10's save writes it.
type LegacyImage struct {
	RepoTags []string
	Layers   [][]byte // uncompressed tars, bottom first
}

// LegacyArchive writes images in docker 20.10's layout: <id>/VERSION,
// <id>/json, <id>/layer.tar (a symlink to the first copy for a layer
// shared with an earlier image), <config hex>.json, manifest.json last,
// then repositories. It returns the archive and each image's ID.
func LegacyArchive(t testing.TB, imgs []LegacyImage) ([]byte, []digest.Digest) {
	t.Helper()
	var entries []testutil.Entry
	var ids []digest.Digest
	var manifest []map[string]any
	first := map[digest.Digest]string{}
	for n, im := range imgs {
		var diffIDs []digest.Digest
		var paths []string
		parent := ""
		for _, l := range im.Layers {
			d := digest.FromBytes(l)
			diffIDs = append(diffIDs, d)
			id := digest.FromString(string(rune('a'+n)) + parent + " " + d.String()).Encoded()
			parent = id
			p := id + "/layer.tar"
			entries = append(entries, testutil.Entry{Name: id + "/"}, testutil.Entry{Name: id + "/VERSION", Body: "1.0"},
				testutil.Entry{Name: id + "/json", Body: `{"id":"` + id + `"}`})
			if f, ok := first[d]; ok {
				entries = append(entries, testutil.Entry{Name: p, Link: "../" + f})
			} else {
				first[d] = p
				entries = append(entries, testutil.Entry{Name: p, Body: string(l)})
			}
			paths = append(paths, p)
		}
		cfg, _ := json.Marshal(map[string]any{
			"architecture": "amd64", "os": "linux", "created": Created,
			"config": map[string]any{"Cmd": []string{"/bin/sh"}},
			"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
		})
		cd := digest.FromBytes(cfg)
		ids = append(ids, cd)
		entries = append(entries, testutil.Entry{Name: cd.Encoded() + ".json", Body: string(cfg)})
		manifest = append(manifest, map[string]any{"Config": cd.Encoded() + ".json", "RepoTags": im.RepoTags, "Layers": paths})
	}
	mj, _ := json.Marshal(manifest)
	entries = append(entries, testutil.Entry{Name: "manifest.json", Body: string(mj)}, testutil.Entry{Name: "repositories", Body: "{}"})
	return testutil.Tar(t, entries...), ids
}

// Package archivetest makes small test images and archives for the tests
// of save and load.
package archivetest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// Created is the fixed creation time of test images.
var Created = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// File is one entry of a test layer; Link makes a symlink.
type File struct {
	Name, Link string
	Data       []byte
	Dir        bool
}

// Tar makes an uncompressed layer tar.
func Tar(t testing.TB, files []File) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: 0o644, ModTime: Created, Typeflag: tar.TypeReg, Size: int64(len(f.Data))}
		switch {
		case f.Dir:
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case f.Link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.Link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(f.Data)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Busybox returns the files of a busybox rootfs: /bin/busybox from the
// host (Debian busybox-static) or, without it, a stand-in file.
func Busybox(t testing.TB) []File {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		bb = bytes.Repeat([]byte("not busybox\n"), 1<<14)
	}
	return []File{
		{Name: "bin/", Dir: true},
		{Name: "bin/busybox", Data: bb},
		{Name: "bin/sh", Link: "busybox"},
		{Name: "bin/ls", Link: "busybox"},
		{Name: "etc/", Dir: true},
		{Name: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\n")},
	}
}

// AddLayer stores a layer made of files, compressed with c.
func AddLayer(t testing.TB, st *store.Store, files []File, c layer.Compression) metadata.Layer {
	t.Helper()
	raw := Tar(t, files)
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
	return Image(t, st, nil, []metadata.Layer{AddLayer(t, st, Busybox(t), c)}, names...)
}

// Entry is one entry of a hand-made archive.
type Entry struct {
	Name     string
	Data     []byte
	Link     string // symlink target
	Hardlink string
	Dir      bool
}

// Archive writes entries as a tar, in order.
func Archive(t testing.TB, entries []Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.Data)), Format: tar.FormatPAX}
		switch {
		case e.Dir:
			h.Typeflag, h.Size = tar.TypeDir, 0
		case e.Link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.Link, 0
		case e.Hardlink != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e.Hardlink, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(e.Data)
		}
	}
	tw.Close()
	return b.Bytes()
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
	var entries []Entry
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
			entries = append(entries, Entry{Name: id + "/", Dir: true}, Entry{Name: id + "/VERSION", Data: []byte("1.0")},
				Entry{Name: id + "/json", Data: []byte(`{"id":"` + id + `"}`)})
			if f, ok := first[d]; ok {
				entries = append(entries, Entry{Name: p, Link: "../" + f})
			} else {
				first[d] = p
				entries = append(entries, Entry{Name: p, Data: l})
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
		entries = append(entries, Entry{Name: cd.Encoded() + ".json", Data: cfg})
		manifest = append(manifest, map[string]any{"Config": cd.Encoded() + ".json", "RepoTags": im.RepoTags, "Layers": paths})
	}
	mj, _ := json.Marshal(manifest)
	entries = append(entries, Entry{Name: "manifest.json", Data: mj}, Entry{Name: "repositories", Data: []byte("{}")})
	return Archive(t, entries), ids
}

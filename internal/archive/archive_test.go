package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/archive/archivetest"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func newStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tool runs a required tool (skopeo, umoci: they are in CI too).
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is required for this test (apt-get install %s)", name, name)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func refs(t testing.TB, names ...string) []image.Reference {
	var out []image.Reference
	for _, n := range names {
		r, err := image.ParseTagged(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func save(t testing.TB, st *store.Store, f archive.Format, im *metadata.Image, names ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out.tar")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := archive.Save(context.Background(), out, []archive.SaveImage{{Source: storetest.Source(t, st, im), Names: refs(t, names...)}}, f); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t testing.TB, st *store.Store, p string) *archive.LoadResult {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := archive.Load(st, f)
	if err != nil {
		t.Fatalf("load %s: %v", p, err)
	}
	return res
}

func layerDigests(im *metadata.Image) (blobs, diffIDs []digest.Digest) {
	for _, l := range im.Layers {
		blobs = append(blobs, l.Digest)
		diffIDs = append(diffIDs, l.DiffID)
	}
	return
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// twoLayers is a busybox base plus a small layer on top.
func twoLayers(t testing.TB, st *store.Store, c layer.Compression, names ...string) *metadata.Image {
	base := archivetest.AddLayer(t, st, testutil.BusyboxRootfs(t), c)
	top := archivetest.AddLayer(t, st, []testutil.Entry{{Name: "etc/hello", Body: "hello\n"}}, c)
	return archivetest.Image(t, st, nil, []metadata.Layer{base, top}, names...)
}

func TestSaveDockerArchiveSkopeo(t *testing.T) {
	st := newStore(t)
	im := twoLayers(t, st, layer.Gzip, "strata-test/busybox:1")
	p := save(t, st, archive.DockerArchive, im, "strata-test/busybox:1")
	dir := filepath.Join(t.TempDir(), "oci")
	tool(t, "skopeo", "copy", "-q", "docker-archive:"+p, "oci:"+dir+":copy")

	src, err := archive.Open("oci:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	imgs := src.Images()
	if len(imgs) != 1 {
		t.Fatalf("%d images in skopeo's copy", len(imgs))
	}
	_, diffIDs := layerDigests(im)
	var got []digest.Digest
	for _, l := range imgs[0].Layers() {
		got = append(got, l.DiffID)
		rc, err := imgs[0].OpenBlob(context.Background(), l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if !equal(got, diffIDs) {
		t.Errorf("diffIDs after skopeo copy: %v, want %v", got, diffIDs)
	}
	// (skopeo re-marshals the config converting docker to OCI, so the
	// image ID changes; the layers do not.)
}

func TestSaveOCIArchiveUmociSkopeo(t *testing.T) {
	st := newStore(t)
	im := archivetest.BusyboxImage(t, st, layer.Gzip, "strata-test/busybox:latest")
	p := save(t, st, archive.OCIArchive, im, "strata-test/busybox:latest")

	var insp struct{ Layers []digest.Digest }
	if err := json.Unmarshal([]byte(tool(t, "skopeo", "inspect", "oci-archive:"+p)), &insp); err != nil {
		t.Fatal(err)
	}
	blobs, _ := layerDigests(im)
	if !equal(insp.Layers, blobs) {
		t.Errorf("skopeo inspect layers %v, want %v (byte-identical blobs)", insp.Layers, blobs)
	}

	dir := filepath.Join(t.TempDir(), "layout")
	os.Mkdir(dir, 0o755)
	if out, err := exec.Command("tar", "-xf", p, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("untar: %v %s", err, out)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	args := []string{"unpack", "--image", dir + ":latest", bundle}
	if os.Geteuid() != 0 {
		args = append([]string{"--rootless"}, args...)
	}
	tool(t, "umoci", args...)
	if _, err := os.Lstat(filepath.Join(bundle, "rootfs", "bin", "busybox")); err != nil {
		t.Errorf("umoci unpack: %v", err)
	}
}

// TestLoadSkopeoArchives: skopeo writes docker-archive and oci-archive
// (from our OCI save), strata loads them back: same ID, same layers.
func TestLoadSkopeoArchives(t *testing.T) {
	st := newStore(t)
	im := twoLayers(t, st, layer.Uncompressed, "strata-test/busybox:latest")
	p := save(t, st, archive.OCIArchive, im, "strata-test/busybox:latest")
	_, diffIDs := layerDigests(im)
	tmp := t.TempDir()
	for _, tc := range []struct{ name, dest string }{
		{"docker-archive", "docker-archive:" + filepath.Join(tmp, "d.tar") + ":strata-test/other:v1"},
		{"oci-archive", "oci-archive:" + filepath.Join(tmp, "o.tar") + ":strata-test/other:v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tool(t, "skopeo", "copy", "-q", "oci-archive:"+p, tc.dest)
			st2 := newStore(t)
			file := strings.SplitN(strings.TrimPrefix(tc.dest, tc.name+":"), ":", 2)[0]
			res := load(t, st2, file)
			if len(res.Images) != 1 || res.Images[0].ID != im.ID {
				t.Fatalf("loaded %+v, want ID %s", res.Images, im.ID)
			}
			got, err := st2.Resolve("strata-test/other:v1")
			if err != nil {
				t.Fatal(err)
			}
			// skopeo compresses the layers for OCI; the diffIDs stay.
			if _, gd := layerDigests(got); !equal(gd, diffIDs) {
				t.Errorf("diffIDs %v, want %v", gd, diffIDs)
			}
		})
	}
}

// TestRoundTrip: save -> load -> save gives the same bytes and digests.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		f archive.Format
		c layer.Compression
	}{{archive.OCIArchive, layer.Gzip}, {archive.OCIArchive, layer.Zstd}, {archive.DockerArchive, layer.Uncompressed}, {archive.DockerArchive, layer.Gzip}} {
		t.Run(string(tc.f)+"-"+tc.c.String(), func(t *testing.T) {
			st := newStore(t)
			im := twoLayers(t, st, tc.c, "strata-test/rt:1")
			p1 := save(t, st, tc.f, im, "strata-test/rt:1")
			st2 := newStore(t)
			res := load(t, st2, p1)
			if len(res.Images) != 1 || res.Images[0].ID != im.ID || len(res.Images[0].Names) != 1 || res.Images[0].Names[0].Familiar() != "strata-test/rt:1" {
				t.Fatalf("loaded %+v", res.Images)
			}
			im2, err := st2.Resolve("strata-test/rt:1")
			if err != nil {
				t.Fatal(err)
			}
			p2 := save(t, st2, tc.f, im2, "strata-test/rt:1")
			b1, _ := os.ReadFile(p1)
			b2, _ := os.ReadFile(p2)
			if !bytes.Equal(b1, b2) {
				t.Errorf("second save differs from the first (%d vs %d bytes)", len(b1), len(b2))
			}
			_, d1 := layerDigests(im)
			bl2, d2 := layerDigests(im2)
			if !equal(d1, d2) {
				t.Errorf("diffIDs changed: %v -> %v", d1, d2)
			}
			if tc.f == archive.OCIArchive {
				bl1, _ := layerDigests(im)
				if !equal(bl1, bl2) || im.Manifest.Digest != im2.Manifest.Digest {
					t.Errorf("blobs changed: %v -> %v", bl1, bl2)
				}
			}
		})
	}
}

func TestMultiImageSharedLayers(t *testing.T) {
	st := newStore(t)
	a := twoLayers(t, st, layer.Gzip, "strata-test/a:1")
	top := archivetest.AddLayer(t, st, []testutil.Entry{{Name: "etc/b", Body: "b\n"}}, layer.Gzip)
	b := archivetest.Image(t, st, a, []metadata.Layer{top}, "strata-test/b:1")
	for _, f := range []archive.Format{archive.DockerArchive, archive.OCIArchive} {
		var buf bytes.Buffer
		err := archive.Save(context.Background(), &buf, []archive.SaveImage{{Source: storetest.Source(t, st, a), Names: refs(t, "strata-test/a:1")}, {Source: storetest.Source(t, st, b), Names: refs(t, "strata-test/b:1", "strata-test/b:2")}}, f)
		if err != nil {
			t.Fatal(err)
		}
		// Each layer once: 3 layers + 2 configs + 2 manifests.
		n := 0
		tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if strings.HasPrefix(h.Name, "blobs/sha256/") && h.Typeflag == tar.TypeReg {
				n++
			}
		}
		if n != 7 {
			t.Errorf("%s: %d blob entries, want 7", f, n)
		}
		st2 := newStore(t)
		res, err := archive.Load(st2, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Images) != 2 || res.Images[0].ID != a.ID || res.Images[1].ID != b.ID || len(res.Images[1].Names) != 2 {
			t.Errorf("%s: loaded %+v", f, res.Images)
		}
	}
}

// TestLoadSharedBaseWritesOnlyNewLayers: a second image sharing a big base
// with a stored one writes only its own layer, in every layout.
func TestLoadSharedBaseWritesOnlyNewLayers(t *testing.T) {
	bigTar := testutil.Tar(t, testutil.Entry{Name: "big", Body: strings.Repeat("0123456789abcdef", 1<<18)}) // 4 MiB
	smallTar := testutil.Tar(t, testutil.Entry{Name: "small", Body: "x"})
	legacy1, _ := archivetest.LegacyArchive(t, []archivetest.LegacyImage{{RepoTags: []string{"strata-test/base:1"}, Layers: [][]byte{bigTar}}})
	legacy2, ids := archivetest.LegacyArchive(t, []archivetest.LegacyImage{{RepoTags: []string{"strata-test/app:1"}, Layers: [][]byte{bigTar, smallTar}}})

	st := newStore(t)
	r1, err := archive.Load(st, bytes.NewReader(legacy1))
	if err != nil {
		t.Fatal(err)
	}
	if r1.BytesWritten < int64(len(bigTar)) {
		t.Fatalf("first load wrote %d bytes", r1.BytesWritten)
	}
	r2, err := archive.Load(st, bytes.NewReader(legacy2))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Images[0].ID != ids[0] {
		t.Errorf("ID %s, want %s", r2.Images[0].ID, ids[0])
	}
	// The small layer, a config and a manifest.
	if r2.BytesWritten > int64(len(smallTar))+1<<12 || r2.BlobsSkipped != 1 {
		t.Errorf("docker 20.10 layout: second load wrote %d bytes, skipped %d blobs", r2.BytesWritten, r2.BlobsSkipped)
	}

	// OCI and docker 25+ layouts name blobs by digest: the stored layer is
	// skipped unread.
	app, err := st.Resolve("strata-test/app:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []archive.Format{archive.OCIArchive, archive.DockerArchive} {
		p := save(t, st, f, app, "strata-test/app:1")
		st2 := newStore(t)
		load(t, st2, save(t, st, f, mustResolve(t, st, "strata-test/base:1"), "strata-test/base:1"))
		res := load(t, st2, p)
		if res.BytesWritten > int64(len(smallTar))+1<<12 || res.BlobsSkipped != 1 {
			t.Errorf("%s: second load wrote %d bytes, skipped %d", f, res.BytesWritten, res.BlobsSkipped)
		}
	}
}

func mustResolve(t testing.TB, st *store.Store, ref string) *metadata.Image {
	im, err := st.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func TestLoadLegacyAndCompressed(t *testing.T) {
	l1 := testutil.BusyboxTar(t)
	l2 := testutil.Tar(t, testutil.Entry{Name: "etc/x", Body: "x"})
	// Two images sharing a layer: docker writes a symlink for the second copy.
	raw, ids := archivetest.LegacyArchive(t, []archivetest.LegacyImage{
		{RepoTags: []string{"strata-test/one:1"}, Layers: [][]byte{l1}},
		{RepoTags: []string{"strata-test/two:1", "strata-test/two:2"}, Layers: [][]byte{l1, l2}},
		{Layers: [][]byte{l2}},
	})
	for _, c := range []layer.Compression{layer.Uncompressed, layer.Gzip, layer.Zstd} {
		var b bytes.Buffer
		w, _ := layer.NewWriter(&b, c, 0)
		w.Write(raw)
		w.Close()
		st := newStore(t)
		res, err := archive.Load(st, &b)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if len(res.Images) != 3 || res.Images[0].ID != ids[0] || res.Images[1].ID != ids[1] || res.Images[2].ID != ids[2] || len(res.Images[1].Names) != 2 || len(res.Images[2].Names) != 0 {
			t.Errorf("%s: loaded %+v", c, res.Images)
		}
		// And the Source API reads the same archive, compressed too.
		p := filepath.Join(t.TempDir(), "a.tar")
		w2, _ := os.Create(p)
		zw, _ := layer.NewWriter(w2, c, 0)
		zw.Write(raw)
		zw.Close()
		w2.Close()
		src, err := archive.Open(p)
		if err != nil {
			t.Fatalf("open %s: %v", c, err)
		}
		imgs := src.Images()
		if len(imgs) != 3 || imgs[1].Config().Digest != ids[1] || len(imgs[1].Layers()) != 2 || imgs[1].Layers()[1].Digest != digest.FromBytes(l2) {
			t.Errorf("Source: %+v", imgs)
		}
		for _, d := range []digest.Digest{imgs[1].Layers()[0].Digest, imgs[1].Config().Digest} {
			rc, err := imgs[1].OpenBlob(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			h := digest.SHA256.Digester()
			if _, err := io.Copy(h.Hash(), rc); err != nil || h.Digest() != d {
				t.Errorf("OpenBlob %s: %v %s", d, err, h.Digest())
			}
			rc.Close()
		}
		src.Close()
	}
}

func TestSourceOCIArchive(t *testing.T) {
	st := newStore(t)
	im := twoLayers(t, st, layer.Gzip, "strata-test/src:1")
	for _, f := range []archive.Format{archive.OCIArchive, archive.DockerArchive} {
		src, err := archive.Open(save(t, st, f, im, "strata-test/src:1"))
		if err != nil {
			t.Fatal(err)
		}
		imgs := src.Images()
		if len(imgs) != 1 || imgs[0].Config().Digest != im.ID || imgs[0].Name() != "docker.io/strata-test/src:1" {
			t.Fatalf("%s: %+v", f, imgs)
		}
		for i, l := range imgs[0].Layers() {
			want := im.Layers[i].Digest
			if f == archive.DockerArchive {
				want = im.Layers[i].DiffID
			}
			if l.Digest != want || l.DiffID != im.Layers[i].DiffID {
				t.Errorf("%s layer %d: %+v", f, i, l)
			}
		}
		if _, err := imgs[0].OpenBlob(context.Background(), digest.FromString("nope")); err == nil {
			t.Errorf("OpenBlob of a missing blob succeeded")
		}
		src.Close()
	}
}

func TestSaveDeterministic(t *testing.T) {
	st := newStore(t)
	im := twoLayers(t, st, layer.Gzip, "strata-test/d:1")
	for _, f := range []archive.Format{archive.OCIArchive, archive.DockerArchive} {
		a, _ := os.ReadFile(save(t, st, f, im, "strata-test/d:1"))
		b, _ := os.ReadFile(save(t, st, f, im, "strata-test/d:1"))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two saves differ", f)
		}
	}
	// An OCI index entry per name, with both annotations.
	src := save(t, st, archive.OCIArchive, im, "strata-test/d:1")
	s, err := archive.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = ocispec.AnnotationRefName
}

func TestDockerLoadSave(t *testing.T) {
	if exec.Command("docker", "info").Run() != nil {
		t.Skip("no docker daemon")
	}
	st := newStore(t)
	tag := "strata-test/docker-roundtrip:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	im := twoLayers(t, st, layer.Gzip, tag)
	p := save(t, st, archive.DockerArchive, im, tag)
	out, err := exec.Command("docker", "load", "-i", p).CombinedOutput()
	if err != nil {
		t.Fatalf("docker load: %v %s", err, out)
	}
	defer exec.Command("docker", "rmi", tag).Run()
	if !strings.Contains(string(out), "Loaded image: "+tag) {
		t.Errorf("docker load said %q", out)
	}
	id, err := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", tag).Output()
	if err != nil || strings.TrimSpace(string(id)) != im.ID.String() {
		t.Errorf("docker image ID %q, want %s (%v)", id, im.ID, err)
	}
	saved := filepath.Join(t.TempDir(), "docker.tar")
	if out, err := exec.Command("docker", "save", "-o", saved, tag).CombinedOutput(); err != nil {
		t.Fatalf("docker save: %v %s", err, out)
	}
	st2 := newStore(t)
	res := load(t, st2, saved)
	if len(res.Images) != 1 || res.Images[0].ID != im.ID || len(res.Images[0].Names) != 1 || res.Images[0].Names[0].Familiar() != tag {
		t.Errorf("loaded %+v", res.Images)
	}
}

func TestPodman(t *testing.T) {
	podman := testutil.Podman(t)
	dir := t.TempDir()
	st := newStore(t)
	im := twoLayers(t, st, layer.Gzip, "strata-test/podman:1")
	podman("load", "-i", save(t, st, archive.DockerArchive, im, "strata-test/podman:1"))
	for _, f := range []string{"docker-archive", "oci-archive"} {
		p := filepath.Join(dir, f+".tar")
		podman("save", "--format", f, "-o", p, "strata-test/podman:1")
		res := load(t, newStore(t), p)
		if len(res.Images) != 1 || res.Images[0].ID != im.ID || len(res.Images[0].Names) != 1 {
			t.Errorf("%s: loaded %+v", f, res.Images)
		}
	}
	podman("load", "-i", save(t, st, archive.OCIArchive, im, "strata-test/podman:1"))
}

func FuzzLoad(f *testing.F) {
	for _, b := range archiveSeeds(f) {
		f.Add(b)
	}
	target := newStore(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := archive.Load(target, bytes.NewReader(data))
		if err == nil {
			for _, im := range res.Images {
				if _, err := target.Image(im.ID); err != nil {
					t.Fatalf("loaded image %s is not in the store: %v", im.ID, err)
				}
			}
		}
	})
}

// A store that has a layer only in another form (pulled gzip-compressed,
// in another image) loads an archive whose manifest names the layer
// uncompressed: the image keeps its manifest, and every blob that
// manifest names is stored.
func TestLoadLayerKnownInAnotherForm(t *testing.T) {
	for _, f := range []archive.Format{archive.DockerArchive, archive.OCIArchive} {
		t.Run(string(f), func(t *testing.T) {
			st := newStore(t)
			im := twoLayers(t, st, layer.Uncompressed, "strata-test/app:1")
			p := save(t, st, f, im, "strata-test/app:1")

			st2 := newStore(t)
			gz := otherImage(t, st2, layer.Gzip, "strata-test/pulled:1")
			if gz.ID == im.ID {
				t.Fatal("the gzip image is the same image")
			}
			_, ids := layerDigests(im)
			if _, gzIDs := layerDigests(gz); !equal(ids, gzIDs) {
				t.Fatalf("the gzip image unpacks to %v, the uncompressed one to %v", gzIDs, ids)
			}
			// A manifest-less (docker 20.10) archive of the top layer
			// stores nothing: the gzip form serves, the held file goes.
			legacy, _ := archivetest.LegacyArchive(t, []archivetest.LegacyImage{{RepoTags: []string{"strata-test/legacy:1"}, Layers: [][]byte{testutil.Tar(t, testutil.Entry{Name: "etc/hello", Body: "hello\n"})}}})
			if res, err := archive.Load(st2, bytes.NewReader(legacy)); err != nil {
				t.Fatal(err)
			} else if res.BlobsSkipped != 1 {
				t.Errorf("legacy load skipped %d blobs, want 1", res.BlobsSkipped)
			}
			load(t, st2, p)
			got := mustResolve(t, st2, "strata-test/app:1")
			if got.ID != im.ID || got.Manifest.Digest != im.Manifest.Digest {
				t.Errorf("loaded %s (manifest %s), saved %s (manifest %s)", got.ID, got.Manifest.Digest, im.ID, im.Manifest.Digest)
			}
			for _, l := range got.Layers {
				if !st2.HasBlob(l.Digest) {
					t.Errorf("layer %s of the loaded image is not stored", l.Digest)
				}
			}
			blobs, _ := layerDigests(got)
			if want, _ := layerDigests(im); !equal(blobs, want) {
				t.Errorf("loaded layers %v, want %v", blobs, want)
			}
			// The gzip image is untouched and both still export.
			for _, ref := range []string{"strata-test/app:1", "strata-test/pulled:1"} {
				save(t, st2, archive.OCIArchive, mustResolve(t, st2, ref), ref)
			}
			if ingest, _ := os.ReadDir(filepath.Join(st2.Path(store.Blobs), "ingest")); len(ingest) != 0 {
				t.Errorf("%d temporary files left in ingest/", len(ingest))
			}
		})
	}
}

// Loading an image the store already has whole (same config, every layer
// stored, here gzip-compressed as a pull keeps them) from an archive that
// names its layers uncompressed only adds the archive's names, as docker
// load does: the image keeps its manifest, and no blob is written that
// the image would not use (a 1 GiB image used to leave 1 GiB of
// unreferenced blobs on disk until the next collection).
func TestLoadImageAlreadyStored(t *testing.T) {
	for _, tc := range []struct {
		format archive.Format
		form   layer.Compression // of the layers in the archive's store
	}{
		{archive.DockerArchive, layer.Uncompressed},
		{archive.OCIArchive, layer.Uncompressed},
		{archive.OCIArchive, layer.Zstd},
	} {
		t.Run(fmt.Sprintf("%s-%v", tc.format, tc.form), func(t *testing.T) {
			src := newStore(t)
			plain := twoLayers(t, src, tc.form, "strata-test/app:1")
			p := save(t, src, tc.format, plain, "strata-test/app:1")

			st := newStore(t)
			gz := twoLayers(t, st, layer.Gzip, "strata-test/pulled:1")
			if gz.ID != plain.ID {
				t.Fatalf("the two forms are different images: %s, %s", gz.ID, plain.ID)
			}
			before := blobNames(t, st)
			res := load(t, st, p)
			if res.BlobsWritten != 0 {
				t.Errorf("load wrote %d blobs (%d bytes) of an image the store has", res.BlobsWritten, res.BytesWritten)
			}
			got := mustResolve(t, st, "strata-test/app:1")
			if got.ID != gz.ID || got.Manifest.Digest != gz.Manifest.Digest {
				t.Errorf("loaded %s (manifest %s), stored %s (manifest %s)", got.ID, got.Manifest.Digest, gz.ID, gz.Manifest.Digest)
			}
			if after := blobNames(t, st); !equal(after, before) {
				t.Errorf("blobs before the load %v, after %v", before, after)
			}
			if ingest, _ := os.ReadDir(filepath.Join(st.Path(store.Blobs), "ingest")); len(ingest) != 0 {
				t.Errorf("%d temporary files left in ingest/", len(ingest))
			}
			// Both names still export.
			for _, ref := range []string{"strata-test/app:1", "strata-test/pulled:1"} {
				save(t, st, archive.OCIArchive, mustResolve(t, st, ref), ref)
			}
		})
	}
}

func blobNames(t *testing.T, st *store.Store) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	if err := st.Content.Walk(func(d digest.Digest, _ int64) error { out = append(out, d); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// otherImage is twoLayers' image with another config (one more history
// entry): another image, with the same layers.
func otherImage(t *testing.T, st *store.Store, c layer.Compression, name string) *metadata.Image {
	t.Helper()
	base := archivetest.AddLayer(t, st, testutil.BusyboxRootfs(t), c)
	top := archivetest.AddLayer(t, st, []testutil.Entry{{Name: "etc/hello", Body: "hello\n"}}, c)
	ref, err := image.ParseTagged(name)
	if err != nil {
		t.Fatal(err)
	}
	im, err := st.NewImage(store.NewImageOptions{Names: []image.Reference{ref}, Created: &archivetest.Created,
		Steps: []store.NewLayer{{Blob: &base}, {Blob: &top}, {History: ocispec.History{CreatedBy: "ENV OTHER=1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

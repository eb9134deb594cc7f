package source_test

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/image/sourcetest"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/source"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

const name = "strata-test/conf:1"

// known is the image every implementation holds: two uncompressed layers,
// so that a docker-archive keeps its manifest byte for byte.
type known struct {
	st   *store.Store
	im   *metadata.Image
	tars [][]byte
	want sourcetest.Want
}

func newKnown(t *testing.T) *known {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := &known{st: st, tars: [][]byte{
		testutil.Tar(t, testutil.Entry{Name: "etc/"}, testutil.Entry{Name: "etc/os-release", Body: "ID=conformance\n"}),
		testutil.Tar(t, testutil.Entry{Name: "app/"}, testutil.Entry{Name: "app/data", Body: strings.Repeat("strata ", 5000)}),
	}}
	k.im = storetest.Image(t, st, nil, name, k.tars...)
	cfg, err := st.Content.ReadAll(k.im.Config.Digest, image.MaxManifestSize)
	if err != nil {
		t.Fatal(err)
	}
	man, err := st.Content.ReadAll(k.im.Manifest.Digest, image.MaxManifestSize)
	if err != nil {
		t.Fatal(err)
	}
	k.want = sourcetest.Want{Config: cfg, Manifest: man, Blobs: map[digest.Digest][]byte{}}
	for i, l := range k.im.Layers {
		k.want.Layers = append(k.want.Layers, image.Layer{Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType, Size: l.Size, UncompressedSize: l.UncompressedSize})
		k.want.Blobs[l.Digest] = k.tars[i]
	}
	return k
}

func (k *known) save(t *testing.T, f archive.Format) string {
	p := filepath.Join(t.TempDir(), string(f)+".tar")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	r, err := image.ParseTagged(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := archive.Save(context.Background(), out, []archive.SaveImage{{Source: storetest.Source(t, k.st, k.im), Names: []image.Reference{r}}}, f); err != nil {
		t.Fatal(err)
	}
	return p
}

// untar writes an oci-archive out as an OCI layout directory.
func untar(t *testing.T, p string) string {
	dir := t.TempDir()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(dst, 0o755)
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func opener(ref string, o source.Options) func(t *testing.T) image.Source {
	return func(t *testing.T) image.Source {
		src, err := source.Open(context.Background(), ref, o)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
}

func storeOpts(st *store.Store) source.Options {
	return source.Options{Store: func() (*store.Store, error) { return st, nil }}
}

func blobFile(root string, d digest.Digest) string {
	return filepath.Join(root, "blobs", "sha256", d.Encoded())
}

// TestConformance runs the Source suite against every implementation,
// each opened through Open by its prefix.
func TestConformance(t *testing.T) {
	k := newKnown(t)
	full := "docker.io/" + name
	tamperFile := func(path func(d digest.Digest) string) func(t *testing.T, d digest.Digest) {
		return func(t *testing.T, d digest.Digest) { sourcetest.FlipByte(t, path(d), k.want.Blobs[d]) }
	}
	t.Run("store", func(t *testing.T) {
		// A store of its own: the tamper test damages it.
		k := newKnown(t)
		w := k.want
		w.Name = name
		sourcetest.Run(t, opener(name, storeOpts(k.st)), w, func(t *testing.T, d digest.Digest) {
			sourcetest.FlipByte(t, blobFile(k.st.Root, d), k.want.Blobs[d])
		})
	})
	for _, f := range []archive.Format{archive.DockerArchive, archive.OCIArchive} {
		t.Run(string(f), func(t *testing.T) {
			p := k.save(t, f)
			w := k.want
			w.Name = full
			sourcetest.Run(t, opener(string(f)+":"+p, source.Options{}), w, tamperFile(func(digest.Digest) string { return p }))
		})
	}
	t.Run("oci-layout", func(t *testing.T) {
		dir := untar(t, k.save(t, archive.OCIArchive))
		w := k.want
		w.Name = full
		sourcetest.Run(t, opener("oci:"+dir, source.Options{}), w, tamperFile(func(d digest.Digest) string { return blobFile(dir, d) }))
	})
	t.Run("registry", func(t *testing.T) {
		reg := registrytest.Start(t, registrytest.Options{})
		cl, err := registry.New(registry.Options{TLSVerify: true, ConfigFiles: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		ref := reg.Host + "/conf/image:1"
		push(t, cl, k, ref)
		w := k.want
		w.Name = ref
		o := source.Options{Registry: func() (*registry.Client, error) { return cl, nil }, Platform: image.HostPlatform()}
		sourcetest.Run(t, opener("docker://"+ref, o), w, tamperFile(func(d digest.Digest) string {
			return filepath.Join(reg.Dir, "data/docker/registry/v2/blobs/sha256", d.Encoded()[:2], d.Encoded(), "data")
		}))
	})
}

// push sends the known image's blobs as they are stored (uncompressed), so
// the registry holds the same manifest.
func push(t *testing.T, cl *registry.Client, k *known, ref string) {
	ctx := context.Background()
	nr, _, err := cl.Ref(ref)
	if err != nil {
		t.Fatal(err)
	}
	ups := []registry.Upload{{Desc: k.im.Config}}
	for _, l := range k.im.Layers {
		ups = append(ups, registry.Upload{Desc: ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}})
	}
	if _, err := cl.UploadBlobs(ctx, k.st, nr.Context(), ups); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutManifest(ctx, nr, k.want.Manifest, k.im.Manifest.MediaType); err != nil {
		t.Fatal(err)
	}
}

// TestOpenPick checks how Open reads references: the prefixes, and which
// image of an archive holding two it picks.
func TestOpenPick(t *testing.T) {
	k := newKnown(t)
	b := storetest.Image(t, k.st, nil, "strata-test/other:2", testutil.Tar(t, testutil.File("b", "b")))
	p := filepath.Join(t.TempDir(), "two.tar")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	refA, _ := image.ParseTagged(name)
	refB, _ := image.ParseTagged("strata-test/other:2")
	err = archive.Save(context.Background(), out, []archive.SaveImage{
		{Source: storetest.Source(t, k.st, k.im), Names: []image.Reference{refA}},
		{Source: storetest.Source(t, k.st, b), Names: []image.Reference{refB}},
	}, archive.DockerArchive)
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ref, wantID, wantErr string
	}{
		{"docker-archive:" + p, k.im.ID.String(), ""},
		{"docker-archive:" + p + ":@1", b.ID.String(), ""},
		{"docker-archive:" + p + ":strata-test/other:2", b.ID.String(), ""},
		{"docker-archive:" + p + ":docker.io/strata-test/conf:1", k.im.ID.String(), ""},
		{"docker-archive:" + p + ":@2", "", "holds 2 images, not image @2"},
		{"docker-archive:" + p + ":nope:1", "", "no image named nope:1"},
		{"docker-archive:", "", "docker-archive: needs a path"},
		{"oci:", "", "oci: needs a path"},
		{name, k.im.ID.String(), ""},
		{"strata-test/other:2", b.ID.String(), ""},
		{"docker://example.com/a:1", "", "no registry client"},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			src, err := source.Open(context.Background(), c.ref, storeOpts(k.st))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if got := src.Config().Digest.String(); got != c.wantID {
				t.Errorf("image %s, want %s", got, c.wantID)
			}
		})
	}
}

package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func compressed(t *testing.T, c layer.Compression, tarball []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := layer.NewWriter(&b, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(tarball)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func fileTar(t *testing.T, name string) []byte {
	return testutil.Tar(t, testutil.Entry{Name: name, Body: strings.Repeat(name, 20000)})
}

// countingSource counts the blob reads of a Source, and can fail them or
// lie about a layer's diffID.
type countingSource struct {
	image.Source
	mu        sync.Mutex
	opened    map[digest.Digest]int
	failAfter int // > 0: a blob read fails after this many bytes
	diffID    digest.Digest
}

func (c *countingSource) Layers() []image.Layer {
	ls := append([]image.Layer(nil), c.Source.Layers()...)
	if c.diffID != "" {
		ls[0].DiffID = c.diffID
	}
	return ls
}

func (c *countingSource) OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	c.mu.Lock()
	c.opened[d]++
	c.mu.Unlock()
	rc, err := c.Source.OpenBlob(ctx, d)
	if err != nil || c.failAfter == 0 {
		return rc, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, int64(c.failAfter)), failing{}), rc}, nil
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection lost") }

func (c *countingSource) opens() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.opened {
		n += v
	}
	return n
}

// diffIDOf reads a blob of src and returns the digest of its tar.
func diffIDOf(t *testing.T, src image.Source, d digest.Digest) digest.Digest {
	t.Helper()
	rc, err := src.OpenBlob(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr, _, err := layer.Decompress(rc)
	if err != nil {
		t.Fatal(err)
	}
	dg := layer.NewDigester()
	if _, err := io.Copy(dg, tr); err != nil {
		t.Fatal(err)
	}
	return dg.Digest()
}

// TestRecompress: each layer comes out in the asked compression with its
// diffID, the config (image ID) stays, the manifest names the new blobs
// with the right media types, and a second conversion of the same layers
// reads none of them.
func TestRecompress(t *testing.T) {
	plain, gz, zst := fileTar(t, "plain"), fileTar(t, "gzip"), fileTar(t, "zstd")
	cases := []struct {
		name  string
		conv  store.Conversion
		types []string // the layers' media types after
		same  []bool   // which layers keep their blob
	}{
		{"zstd", store.Conversion{To: layer.Zstd},
			[]string{ocispec.MediaTypeImageLayerZstd, ocispec.MediaTypeImageLayerZstd, ocispec.MediaTypeImageLayerZstd},
			[]bool{false, false, true}},
		{"zstd level 19", store.Conversion{To: layer.Zstd, Level: 19},
			[]string{ocispec.MediaTypeImageLayerZstd, ocispec.MediaTypeImageLayerZstd, ocispec.MediaTypeImageLayerZstd},
			[]bool{false, false, true}},
		{"gzip", store.Conversion{To: layer.Gzip},
			[]string{ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerGzip},
			[]bool{false, true, false}},
		{"gzip, uncompressed left to push", store.Conversion{To: layer.Gzip, LeaveUncompressed: true},
			[]string{ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerGzip},
			[]bool{true, true, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := open(t)
			im := storetest.Image(t, st, nil, "app:1", plain, compressed(t, layer.Gzip, gz), compressed(t, layer.Zstd, zst))
			src := &countingSource{Source: storetest.Source(t, st, im), opened: map[digest.Digest]int{}}
			out, err := st.Recompress(context.Background(), src, c.conv)
			if err != nil {
				t.Fatal(err)
			}
			m := out.Manifest()
			if m.Config.Digest != im.ID || out.Config().Digest != im.ID || m.MediaType != ocispec.MediaTypeImageManifest {
				t.Errorf("manifest %s of config %s, want an OCI manifest of %s", m.MediaType, m.Config.Digest, im.ID)
			}
			if m.Digest != digest.FromBytes(m.Raw) {
				t.Errorf("manifest digest %s is not that of its bytes", m.Digest)
			}
			for i, l := range out.Layers() {
				if l.DiffID != im.Layers[i].DiffID || m.Layers[i].Digest != l.Digest || m.Layers[i].Size != l.Size {
					t.Errorf("layer %d: %+v, manifest %+v, want diffID %s", i, l, m.Layers[i], im.Layers[i].DiffID)
				}
				if got := m.Layers[i].MediaType; got != c.types[i] || l.MediaType != got {
					t.Errorf("layer %d: media type %s (%s), want %s", i, got, l.MediaType, c.types[i])
				}
				if (l.Digest == im.Layers[i].Digest) != c.same[i] {
					t.Errorf("layer %d: blob %s, stored %s: kept %v, want %v", i, l.Digest, im.Layers[i].Digest, !c.same[i], c.same[i])
				}
				if got := diffIDOf(t, out, l.Digest); got != l.DiffID {
					t.Errorf("layer %d unpacks to %s, not %s", i, got, l.DiffID)
				}
				if mt := c.types[i]; mt != ocispec.MediaTypeImageLayer && layer.Detect(readHead(t, out, l.Digest)).String() != mt[strings.LastIndex(mt, "+")+1:] {
					t.Errorf("layer %d is not %s", i, mt)
				}
			}
			// The second time every conversion is found: no layer is read.
			src.opened = map[digest.Digest]int{}
			again, err := st.Recompress(context.Background(), src, c.conv)
			if err != nil {
				t.Fatal(err)
			}
			if again.Manifest().Digest != m.Digest || src.opens() != 0 {
				t.Errorf("second conversion: manifest %s (first %s), %d blobs read", again.Manifest().Digest, m.Digest, src.opens())
			}
			src.Close()
			if r, err := st.Fsck(); err != nil || len(r.Problems) > 0 || r.Unreferenced > 0 {
				t.Errorf("fsck: %+v %v", r, err)
			}
		})
	}
}

func readHead(t *testing.T, src image.Source, d digest.Digest) []byte {
	t.Helper()
	rc, err := src.OpenBlob(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b := make([]byte, 8)
	io.ReadFull(rc, b)
	return b
}

// TestRecompressDockerManifest: a Docker schema 2 image keeps its manifest
// kind for gzip; zstd, which that kind cannot list, gets an OCI manifest
// of the same config, as podman and skopeo write it.
func TestRecompressDockerManifest(t *testing.T) {
	for _, c := range []struct {
		to            layer.Compression
		manifest, lmt string
	}{
		{layer.Gzip, image.MediaTypeDockerManifest, image.MediaTypeDockerLayerGzip},
		{layer.Zstd, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageLayerZstd},
	} {
		t.Run(c.to.String(), func(t *testing.T) {
			st := open(t)
			im := dockerImage(t, st, fileTar(t, "one"), fileTar(t, "two"))
			src := storetest.Source(t, st, im)
			out, err := st.Recompress(context.Background(), src, store.Conversion{To: c.to})
			if err != nil {
				t.Fatal(err)
			}
			m := out.Manifest()
			wantConfig := image.MediaTypeDockerConfig
			if c.manifest == ocispec.MediaTypeImageManifest {
				wantConfig = ocispec.MediaTypeImageConfig
			}
			if m.MediaType != c.manifest || m.Config.MediaType != wantConfig || m.Config.Digest != im.ID {
				t.Errorf("manifest %s, config %s %s; want %s, %s %s", m.MediaType, m.Config.MediaType, m.Config.Digest, c.manifest, wantConfig, im.ID)
			}
			for i, l := range m.Layers {
				if l.MediaType != c.lmt {
					t.Errorf("layer %d: %s, want %s", i, l.MediaType, c.lmt)
				}
			}
			if mt, err := image.DetectMediaType(m.Raw, m.MediaType); err != nil || mt != c.manifest {
				t.Errorf("the manifest's bytes are a %q (%v)", mt, err)
			}
		})
	}
}

// dockerImage stores an image with a Docker schema 2 manifest of
// uncompressed layers, as docker 20.10's save gives them.
func dockerImage(t *testing.T, st *store.Store, layers ...[]byte) *metadata.Image {
	t.Helper()
	ref := storetest.Image(t, st, nil, "", layers...)
	m := ocispec.Manifest{MediaType: image.MediaTypeDockerManifest, Config: ref.Config}
	m.SchemaVersion = 2
	m.Config.MediaType = image.MediaTypeDockerConfig
	for _, l := range ref.Layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: image.MediaTypeDockerLayer, Digest: l.Digest, Size: l.Size})
	}
	d, err := st.PutJSON(image.MediaTypeDockerManifest, m)
	if err != nil {
		t.Fatal(err)
	}
	im, err := st.AddImage(d.Digest, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestConvertedBlobsCollected: a converted blob lives while some image
// has its layer, and goes (with its records) with the last one; fsck
// stays clean all along.
func TestConvertedBlobsCollected(t *testing.T) {
	st := open(t)
	shared := compressed(t, layer.Gzip, fileTar(t, "shared"))
	a := storetest.Image(t, st, nil, "a:1", shared)
	storetest.Image(t, st, a, "b:1", fileTar(t, "b"))
	src := storetest.Source(t, st, a)
	out, err := st.Recompress(context.Background(), src, store.Conversion{To: layer.Zstd})
	if err != nil {
		t.Fatal(err)
	}
	converted := out.Layers()[0].Digest
	src.Close()
	clean := func(when string) {
		t.Helper()
		if r, err := st.Fsck(); err != nil || len(r.Problems) > 0 || r.Unreferenced > 0 {
			t.Errorf("%s: fsck %+v %v", when, r, err)
		}
	}
	clean("after the conversion")
	for _, c := range []struct {
		rmi  string
		kept bool
	}{{"a:1", true}, {"b:1", false}} {
		if _, err := st.Remove(c.rmi, false); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GC(true); err != nil {
			t.Fatal(err)
		}
		if st.Content.Has(converted) != c.kept {
			t.Errorf("after rmi %s the converted blob is there: %v, want %v", c.rmi, !c.kept, c.kept)
		}
		clean("after rmi " + c.rmi)
	}
	if n := blobCount(t, st); n != 0 {
		t.Errorf("%d blobs left", n)
	}
	var left int
	st.Meta.View(func(tx *metadata.Tx) error {
		return tx.ForEach(metadata.BucketConverted, func(string, []byte) error { left++; return nil })
	})
	if left != 0 {
		t.Errorf("%d conversion records left", left)
	}
}

// TestRecompressFailureStoresNothing: a conversion whose source breaks,
// or whose layer is not the diffID the image says, leaves no blob (not
// even a partial one in ingest/) and no record; the next try converts.
func TestRecompressFailureStoresNothing(t *testing.T) {
	st := open(t)
	im := storetest.Image(t, st, nil, "a:1", compressed(t, layer.Gzip, testutil.Tar(t, testutil.Entry{Name: "big", Body: randomString(t, 3<<20)})))
	before := blobCount(t, st)
	for _, c := range []struct {
		name string
		src  *countingSource
		want string
	}{
		{"source breaks", &countingSource{failAfter: 1 << 20}, "connection lost"},
		{"wrong diffID", &countingSource{diffID: digest.FromString("another layer")}, "unpacks to"},
	} {
		c.src.Source, c.src.opened = storetest.Source(t, st, im), map[digest.Digest]int{}
		_, err := st.Recompress(context.Background(), c.src, store.Conversion{To: layer.Zstd})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
		c.src.Close()
		ingest, _ := os.ReadDir(filepath.Join(st.Path(store.Blobs), "ingest"))
		if n := blobCount(t, st); n != before || len(ingest) != 0 {
			t.Errorf("%s: %d blobs (had %d), %d files in ingest/", c.name, n, before, len(ingest))
		}
		if r, err := st.Fsck(); err != nil || len(r.Problems) > 0 || r.Unreferenced > 0 {
			t.Errorf("%s: fsck %+v %v", c.name, r, err)
		}
	}
	src := storetest.Source(t, st, im)
	if _, err := st.Recompress(context.Background(), src, store.Conversion{To: layer.Zstd}); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, st); n != before+1 {
		t.Errorf("%d blobs after the conversion, want %d", n, before+1)
	}
}

// randomString is n incompressible bytes.
func randomString(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

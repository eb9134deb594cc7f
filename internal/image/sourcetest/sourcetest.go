// Package sourcetest is the conformance suite of image.Source: every
// implementation (store, docker-archive, oci-archive, OCI layout, registry)
// runs it on the same known image, as containerd runs one content test
// suite against each content store.
package sourcetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
)

// Want is the image the source under test must give.
type Want struct {
	Name     string // "" when the source gives none
	Config   []byte
	Manifest []byte
	Layers   []image.Layer
	// Blobs are the bytes of each layer blob, by digest.
	Blobs map[digest.Digest][]byte
}

// Run checks the Source open returns against want. tamper changes one byte
// of a blob where the source keeps it (in place, same length); it runs
// last, on a source opened before the change.
func Run(t *testing.T, open func(t *testing.T) image.Source, want Want, tamper func(t *testing.T, d digest.Digest)) {
	ctx := context.Background()
	t.Run("Describe", func(t *testing.T) {
		src := open(t)
		defer src.Close()
		if src.Name() != want.Name {
			t.Errorf("Name %q, want %q", src.Name(), want.Name)
		}
		c := src.Config()
		if !bytes.Equal(c.Raw, want.Config) || c.Digest != digest.FromBytes(want.Config) || c.File == nil {
			t.Errorf("Config %s (%d bytes), want %s", c.Digest, len(c.Raw), digest.FromBytes(want.Config))
		}
		m := src.Manifest()
		if !bytes.Equal(m.Raw, want.Manifest) || m.Digest != digest.FromBytes(want.Manifest) || m.Manifest == nil || !image.IsManifest(m.MediaType) {
			t.Errorf("Manifest %s %q, want %s:\n%s\nwant\n%s", m.Digest, m.MediaType, digest.FromBytes(want.Manifest), m.Raw, want.Manifest)
		}
		if m.Manifest != nil && m.Config.Digest != c.Digest {
			t.Errorf("the manifest's config is %s, the config %s", m.Config.Digest, c.Digest)
		}
		got := src.Layers()
		if len(got) != len(want.Layers) {
			t.Fatalf("%d layers, want %d", len(got), len(want.Layers))
		}
		for i, l := range got {
			w := want.Layers[i]
			if l.Digest != w.Digest || l.DiffID != w.DiffID || l.MediaType != w.MediaType || l.Size != w.Size {
				t.Errorf("layer %d: %+v, want %+v", i, l, w)
			}
			if l.UncompressedSize != 0 && l.UncompressedSize != w.UncompressedSize {
				t.Errorf("layer %d: uncompressed size %d, want %d", i, l.UncompressedSize, w.UncompressedSize)
			}
			if m.Manifest != nil && m.Layers[i].Digest != l.Digest {
				t.Errorf("layer %d is %s, the manifest says %s", i, l.Digest, m.Layers[i].Digest)
			}
		}
	})
	t.Run("OpenBlob", func(t *testing.T) {
		src := open(t)
		defer src.Close()
		blobs := map[digest.Digest][]byte{digest.FromBytes(want.Config): want.Config, digest.FromBytes(want.Manifest): want.Manifest}
		for d, b := range want.Blobs {
			blobs[d] = b
		}
		openers := map[string]func(context.Context, digest.Digest) (io.ReadCloser, error){"verified": src.OpenBlob}
		if uo, ok := src.(image.UnverifiedOpener); ok {
			openers["unverified"] = uo.OpenBlobUnverified
		}
		for how, openBlob := range openers {
			for d, b := range blobs {
				got, err := readBlob(ctx, openBlob, d)
				if err != nil || !bytes.Equal(got, b) {
					t.Errorf("%s %s: %d bytes, %v; want %d bytes", how, d, len(got), err, len(b))
				}
			}
		}
		for _, l := range want.Layers {
			rc, err := src.OpenBlob(ctx, l.Digest)
			if err != nil {
				t.Fatal(err)
			}
			diffID, err := diffIDOf(rc)
			rc.Close()
			if err != nil || diffID != l.DiffID {
				t.Errorf("layer %s: uncompressed digest %s, %v; want %s", l.Digest, diffID, err, l.DiffID)
			}
		}
	})
	t.Run("Missing", func(t *testing.T) {
		src := open(t)
		defer src.Close()
		_, err := readBlob(ctx, src.OpenBlob, digest.FromString("no such blob"))
		if !errors.Is(err, image.ErrBlobNotFound) || !errdefs.IsNotFound(err) {
			t.Errorf("missing blob: %v, want ErrBlobNotFound", err)
		}
	})
	t.Run("Close", func(t *testing.T) {
		if err := open(t).Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Run("Tampered", func(t *testing.T) {
		if tamper == nil || len(want.Layers) == 0 {
			t.Skip("no way to tamper with this source")
		}
		src := open(t)
		defer src.Close()
		d := want.Layers[len(want.Layers)-1].Digest
		tamper(t, d)
		if _, err := readBlob(ctx, src.OpenBlob, d); err == nil {
			t.Errorf("a tampered blob was read without error")
		}
	})
}

func readBlob(ctx context.Context, open func(context.Context, digest.Digest) (io.ReadCloser, error), d digest.Digest) ([]byte, error) {
	rc, err := open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func diffIDOf(r io.Reader) (digest.Digest, error) {
	zr, _, err := layer.Decompress(r)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	h := digest.SHA256.Digester()
	if _, err := io.Copy(h.Hash(), zr); err != nil {
		return "", err
	}
	return h.Digest(), nil
}

// FlipByte changes one byte of blob in the file at path (an archive, a
// layout's or a store's blob file), where the blob's bytes are found: a
// tamper function for sources that read files in place.
func FlipByte(t *testing.T, path string, blob []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, blob)
	if i < 0 {
		t.Fatalf("the blob is not in %s", path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	at := int64(i + len(blob)/2)
	if _, err := f.WriteAt([]byte{b[at] ^ 0xff}, at); err != nil {
		t.Fatal(err)
	}
}

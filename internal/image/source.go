package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Source is read access to one image, wherever it lives: the store, an
// archive (docker-archive, oci-archive), an OCI layout directory or a
// registry. Everything that reads an image (save, push, analyze) takes a
// Source, so a new kind of place is one new implementation, not one more
// adapter per consumer. Like go-containerregistry's v1.Image, the core is
// small and what only some sources can do is an optional interface found
// by type assertion (UnverifiedOpener).
//
// Name, Config, Manifest and Layers are read when the Source is opened and
// cannot fail afterwards; only blobs are read on demand.
type Source interface {
	// Name is the reference the image was opened by (a store name, a
	// registry reference) or the first name its archive gives it
	// (docker.io/library/busybox:latest); "" when it has none.
	Name() string
	// Config is the config blob, byte-exact, and its parsed form.
	Config() Config
	// Manifest is the image manifest. A source that keeps no manifest (a
	// docker 20.10 archive) gives the OCI manifest of its config and layers.
	Manifest() Manifest
	// Layers are the image's layers, bottom first, one per manifest layer.
	Layers() []Layer
	// OpenBlob reads blob d (a layer, the config, the manifest). The reader
	// fails, instead of ending, when the bytes do not match d; a blob the
	// source does not hold is an error that errors.Is ErrBlobNotFound.
	OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, error)
	// Close releases what the source holds open (an archive file).
	Close() error
}

// Config is an image's config blob.
type Config struct {
	Raw    []byte
	Digest digest.Digest // the image ID
	File   *ConfigFile
}

// Manifest is an image's manifest blob.
type Manifest struct {
	Raw       []byte
	Digest    digest.Digest
	MediaType string
	*ocispec.Manifest
}

// Descriptor describes the manifest blob for an index or a reference.
func (m Manifest) Descriptor() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))}
}

// Layer is one layer of a Source.
type Layer struct {
	Digest           digest.Digest // of the blob as the source holds it
	DiffID           digest.Digest // of the uncompressed tar
	MediaType        string
	Size             int64 // bytes of the blob
	UncompressedSize int64 // bytes of the tar; 0 when the source does not know
}

// ErrBlobNotFound is what OpenBlob's error wraps when the source has no
// blob of that digest.
var ErrBlobNotFound = errdefs.NotFound(errors.New("blob not found"))

// UnverifiedOpener is an optional capability of a Source, for read-only
// uses that store and send nothing (layer analysis). OpenBlobUnverified
// reads a blob without checking it against its digest; where the source
// can, the reader also has Seek and ReadAt, so that big file contents can
// be skipped instead of read.
//
// Why that is safe: the digest check guards what strata writes (invariant
// 1: a blob is named by the sha256 of its bytes). Bytes read this way never
// reach a store, an archive or a registry; a damaged source can at worst
// make a wrong report, and a truncated or corrupt tar still fails the
// reading. Anything that writes a blob somewhere must use OpenBlob.
type UnverifiedOpener interface {
	OpenBlobUnverified(ctx context.Context, d digest.Digest) (io.ReadCloser, error)
}

// NewManifest parses a manifest blob into a Manifest.
func NewManifest(raw []byte) (Manifest, error) {
	m, mt, err := ParseManifest(raw)
	if err != nil {
		return Manifest{}, err
	}
	return Manifest{Raw: raw, Digest: digest.FromBytes(raw), MediaType: mt, Manifest: m}, nil
}

// NewConfig parses a config blob into a Config.
func NewConfig(raw []byte) (Config, error) {
	f, err := ParseConfigFile(raw)
	if err != nil {
		return Config{}, err
	}
	return Config{Raw: raw, Digest: digest.FromBytes(raw), File: f}, nil
}

// LayersOf pairs a manifest's layer descriptors with the config's diffIDs,
// for a source that knows nothing more of its layers (a registry).
func LayersOf(m Manifest, c Config) ([]Layer, error) {
	ids := c.File.RootFS.DiffIDs
	if len(ids) != len(m.Layers) {
		return nil, fmt.Errorf("the manifest has %d layers, the config %d diff_ids", len(m.Layers), len(ids))
	}
	out := make([]Layer, len(m.Layers))
	for i, d := range m.Layers {
		out[i] = Layer{Digest: d.Digest, DiffID: ids[i], MediaType: d.MediaType, Size: d.Size}
	}
	return out, nil
}

// Verify wraps a blob's reader so that, at its end, it fails instead of
// returning EOF when the bytes read are not d, or not size bytes (size < 0:
// unknown).
func Verify(rc io.ReadCloser, d digest.Digest, size int64) io.ReadCloser {
	return &verifier{rc: rc, d: d, v: d.Verifier(), size: size}
}

type verifier struct {
	rc   io.ReadCloser
	d    digest.Digest
	v    digest.Verifier
	size int64
	n    int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.v.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if v.size >= 0 && v.n != v.size {
			return n, fmt.Errorf("blob %s: got %d bytes, want %d", v.d, v.n, v.size)
		}
		if !v.v.Verified() {
			return n, fmt.Errorf("blob %s does not match its digest", v.d)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }

// ManifestOf makes the OCI manifest of a config and layers, for a source
// that keeps none (a docker 20.10 archive) or must describe layers it
// changed (docker-archive's uncompressed ones).
func ManifestOf(c Config, layers []Layer) (Manifest, error) {
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: c.Digest, Size: int64(len(c.Raw))},
		Layers:    []ocispec.Descriptor{},
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return Manifest{}, err
	}
	return Manifest{Raw: raw, Digest: digest.FromBytes(raw), MediaType: m.MediaType, Manifest: &m}, nil
}

// WithLayers is manifest m listing layers instead of its own (the same
// number, the same diffIDs: push and save --compression-format). A
// descriptor whose blob did not change keeps its annotations and URLs.
// With oci, a Docker schema 2 manifest becomes an OCI one (its config
// bytes, and so the image ID, unchanged), as a zstd layer needs.
func WithLayers(m Manifest, layers []Layer, oci bool) (Manifest, error) {
	if len(layers) != len(m.Layers) {
		return Manifest{}, fmt.Errorf("the manifest has %d layers, not %d", len(m.Layers), len(layers))
	}
	out := *m.Manifest
	out.Layers = make([]ocispec.Descriptor, len(layers))
	for i, l := range layers {
		d := ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}
		if old := m.Layers[i]; old.Digest == l.Digest {
			d.Annotations, d.URLs = old.Annotations, old.URLs
		}
		out.Layers[i] = d
	}
	if oci && out.MediaType != ocispec.MediaTypeImageManifest {
		out.MediaType = ocispec.MediaTypeImageManifest
		out.Config.MediaType = ocispec.MediaTypeImageConfig
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return Manifest{}, err
	}
	return Manifest{Raw: raw, Digest: digest.FromBytes(raw), MediaType: out.MediaType, Manifest: &out}, nil
}

// OCILayerMediaType is the OCI counterpart of a Docker layer media type
// (mt itself for an OCI one).
func OCILayerMediaType(mt string) string {
	switch mt {
	case MediaTypeDockerLayer:
		return ocispec.MediaTypeImageLayer
	case MediaTypeDockerLayerGzip:
		return ocispec.MediaTypeImageLayerGzip
	case MediaTypeDockerLayerZstd:
		return ocispec.MediaTypeImageLayerZstd
	case MediaTypeDockerForeignLayer:
		//lint:ignore SA1019 the OCI name of docker's foreign layers
		return ocispec.MediaTypeImageLayerNonDistributableGzip
	}
	return mt
}

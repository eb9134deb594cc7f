package image

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker schema 2 media types (the OCI ones are in ocispec).
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
	MediaTypeDockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerLayerZstd    = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// MaxManifestSize bounds what is read of a manifest, index or config.
const MaxManifestSize = 16 << 20

// IsManifest reports whether mt is an image manifest media type.
func IsManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

// IsIndex reports whether mt is an index / manifest list media type.
func IsIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// IsLayer reports whether mt is a layer media type we can unpack.
func IsLayer(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd,
		//lint:ignore SA1019 non-distributable layers are still seen in the wild
		ocispec.MediaTypeImageLayerNonDistributable,
		//lint:ignore SA1019 as above
		ocispec.MediaTypeImageLayerNonDistributableGzip,
		//lint:ignore SA1019 as above
		ocispec.MediaTypeImageLayerNonDistributableZstd,
		MediaTypeDockerLayer, MediaTypeDockerLayerGzip, MediaTypeDockerLayerZstd, MediaTypeDockerForeignLayer:
		return true
	}
	return false
}

// IsForeignLayer reports whether a layer is one registries do not serve
// (Windows base layers); we never follow their URLs.
func IsForeignLayer(mt string) bool {
	return mt == MediaTypeDockerForeignLayer || strings.Contains(mt, "nondistributable")
}

// probe is the union of the fields that tell manifests and indexes apart.
type probe struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        json.RawMessage   `json:"config"`
	Layers        json.RawMessage   `json:"layers"`
	Manifests     json.RawMessage   `json:"manifests"`
	FSLayers      []json.RawMessage `json:"fsLayers"`
}

// DetectMediaType tells what kind of document b is, refusing ambiguous ones:
// a document that is both a manifest and an index (CVE-2021-41190), or
// whose mediaType field disagrees with the media type it was served as.
func DetectMediaType(b []byte, declared string) (string, error) {
	var p probe
	if err := json.Unmarshal(b, &p); err != nil {
		return "", fmt.Errorf("malformed manifest: %v", err)
	}
	if p.FSLayers != nil {
		return "", fmt.Errorf("docker schema 1 manifests are not supported")
	}
	if p.SchemaVersion != 2 {
		return "", fmt.Errorf("malformed manifest: schemaVersion %d, want 2", p.SchemaVersion)
	}
	isIndex := p.Manifests != nil
	isManifest := p.Config != nil || p.Layers != nil
	if isIndex && isManifest {
		return "", fmt.Errorf("ambiguous manifest: it has both manifests and layers/config")
	}
	mt := p.MediaType
	if mt == "" {
		mt = declared
	}
	if mt == "" {
		if isIndex {
			mt = ocispec.MediaTypeImageIndex
		} else {
			mt = ocispec.MediaTypeImageManifest
		}
	}
	if declared != "" && p.MediaType != "" && declared != p.MediaType {
		return "", fmt.Errorf("manifest media type %q does not match its declared type %q", p.MediaType, declared)
	}
	switch {
	case IsIndex(mt) && !isManifest:
		return mt, nil
	case IsManifest(mt) && !isIndex:
		return mt, nil
	}
	return "", fmt.Errorf("unsupported manifest media type %q", mt)
}

// ParseManifest decodes and checks an image manifest.
func ParseManifest(b []byte) (*ocispec.Manifest, string, error) {
	mt, err := DetectMediaType(b, "")
	if err != nil {
		return nil, "", err
	}
	if !IsManifest(mt) {
		return nil, "", fmt.Errorf("expected an image manifest, got %s", mt)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, "", fmt.Errorf("malformed manifest: %v", err)
	}
	if err := checkDescriptor(m.Config, "config"); err != nil {
		return nil, "", err
	}
	for i, l := range m.Layers {
		if err := checkDescriptor(l, fmt.Sprintf("layer %d", i)); err != nil {
			return nil, "", err
		}
	}
	return &m, mt, nil
}

// ParseIndex decodes and checks an index or manifest list.
func ParseIndex(b []byte) (*ocispec.Index, string, error) {
	mt, err := DetectMediaType(b, "")
	if err != nil {
		return nil, "", err
	}
	if !IsIndex(mt) {
		return nil, "", fmt.Errorf("expected an image index, got %s", mt)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, "", fmt.Errorf("malformed index: %v", err)
	}
	for i, d := range idx.Manifests {
		if err := checkDescriptor(d, fmt.Sprintf("manifest %d", i)); err != nil {
			return nil, "", err
		}
	}
	return &idx, mt, nil
}

func checkDescriptor(d ocispec.Descriptor, what string) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("malformed manifest: %s has an invalid digest %q", what, d.Digest)
	}
	if d.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("malformed manifest: %s uses %s, only sha256 is supported", what, d.Digest.Algorithm())
	}
	if d.Size < 0 {
		return fmt.Errorf("malformed manifest: %s has a negative size", what)
	}
	return nil
}

// ParseConfig decodes an image config and checks its rootfs.
func ParseConfig(b []byte) (*ocispec.Image, error) {
	var c ocispec.Image
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("malformed image config: %v", err)
	}
	if c.RootFS.Type != "layers" {
		return nil, fmt.Errorf("malformed image config: rootfs type %q, want \"layers\"", c.RootFS.Type)
	}
	for _, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("malformed image config: invalid diff_id %q", d)
		}
	}
	return &c, nil
}

// ChainID names a stack of layers: chainID(L1) = diffID(L1),
// chainID(L1..Ln) = sha256(chainID(L1..Ln-1) + " " + diffID(Ln)).
func ChainID(diffIDs []digest.Digest) digest.Digest {
	if len(diffIDs) == 0 {
		return ""
	}
	c := diffIDs[0]
	for _, d := range diffIDs[1:] {
		c = digest.FromString(c.String() + " " + d.String())
	}
	return c
}

// ChainIDs returns the chain ID of every prefix of diffIDs.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i := range diffIDs {
		if i == 0 {
			out[i] = diffIDs[0]
		} else {
			out[i] = digest.FromString(out[i-1].String() + " " + diffIDs[i].String())
		}
	}
	return out
}

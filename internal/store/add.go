package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
)

// AddImage makes an image visible: the manifest blob (already stored, with
// its config and layer blobs and their layer records) becomes an image
// record, and names point at it, in one metadata transaction. This is the
// single commit point of load, import, pull, build and commit: before it
// nothing is visible, after it everything is.
func (s *Store) AddImage(manifest digest.Digest, names []image.Reference, repoDigests []string) (*metadata.Image, error) {
	mb, err := s.Content.ReadAll(manifest, image.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	m, mt, err := image.ParseManifest(mb)
	if err != nil {
		return nil, err
	}
	im := &metadata.Image{
		ID:          m.Config.Digest,
		Manifest:    ocispec.Descriptor{MediaType: mt, Digest: manifest, Size: int64(len(mb))},
		Config:      m.Config,
		RepoDigests: repoDigests,
		Added:       time.Now().UTC(),
	}
	im.Config.Annotations, im.Config.URLs = nil, nil
	cfg, _, err := s.Config(im)
	if err != nil {
		return nil, fmt.Errorf("image config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("invalid image: the manifest lists %d layers, the config %d", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	if cfg.Created != nil {
		im.Created = *cfg.Created
	}
	for i, d := range m.Layers {
		rec, err := s.LayerRecord(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("layer %s is not in the store: %w", d.Digest, err)
		}
		if rec.DiffID != cfg.RootFS.DiffIDs[i] {
			return nil, fmt.Errorf("invalid image: layer %d (%s) unpacks to %s, the config says %s", i, d.Digest, rec.DiffID, cfg.RootFS.DiffIDs[i])
		}
		rec.MediaType = d.MediaType
		im.Layers = append(im.Layers, *rec)
	}
	err = s.Meta.Update(func(tx *metadata.Tx) error {
		if old, err := getImage(tx, im.ID); err == nil {
			// Same config = same image: keep its record, add what is new.
			im.Added, im.Parent = old.Added, old.Parent
			im.RepoDigests = image.MergeNames(old.RepoDigests, im.RepoDigests)
			if !old.LastTagTime.IsZero() {
				im.LastTagTime = old.LastTagTime
			}
		} else if !errors.Is(err, ErrNoSuchImage) {
			return err
		}
		if err := tx.Put(metadata.BucketImages, im.ID.String(), im); err != nil {
			return err
		}
		for _, n := range names {
			if err := tag(tx, im, n); err != nil {
				return err
			}
		}
		return nil
	})
	return im, err
}

// PutJSON stores v as a JSON blob and returns its descriptor.
func (s *Store) PutJSON(mediaType string, v any) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return s.PutBytes(mediaType, b)
}

// PutBytes stores b as a blob and returns its descriptor.
func (s *Store) PutBytes(mediaType string, b []byte) (ocispec.Descriptor, error) {
	d, n, err := s.Content.Put(bytes.NewReader(b), "", int64(len(b)))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: n}, nil
}

// IngestLayer stores a layer blob and records it (see layer.Ingest).
func (s *Store) IngestLayer(b layer.Blob, mediaType string) (metadata.Layer, error) {
	rec := metadata.Layer{Digest: b.Digest, DiffID: b.DiffID, Size: b.Size, UncompressedSize: b.UncompressedSize, ContentSize: b.ContentSize, MediaType: mediaType}
	return rec, s.PutLayerRecord(rec)
}

// LayerMediaType is the OCI media type of a layer blob in compression c.
func LayerMediaType(c layer.Compression) string {
	switch c {
	case layer.Gzip:
		return ocispec.MediaTypeImageLayerGzip
	case layer.Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayer
}

// NewLayer is a layer made by import, commit or a build step, with the
// history entry that describes it. A nil Blob is an empty-layer step.
type NewLayer struct {
	Blob    *metadata.Layer
	History ocispec.History
}

// NewImageOptions describes an image made on top of Parent (nil: from scratch).
type NewImageOptions struct {
	Parent *metadata.Image
	Steps  []NewLayer
	// Config edits the config after the parent's was copied.
	Config func(*image.ConfigFile) error
	Names  []image.Reference
	// Created is the image's creation time (default: now).
	Created *time.Time
}

// NewImage writes the config and manifest of an image made from a parent
// and new layers, and adds it to the store.
func (s *Store) NewImage(o NewImageOptions) (*metadata.Image, error) {
	created := time.Now().UTC()
	if o.Created != nil {
		created = o.Created.UTC()
	}
	var cfg image.ConfigFile
	cfg.Platform = ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	cfg.RootFS = ocispec.RootFS{Type: "layers"}
	var layers []ocispec.Descriptor
	if o.Parent != nil {
		pc, _, err := s.Config(o.Parent)
		if err != nil {
			return nil, err
		}
		cfg = *pc
		for _, l := range o.Parent.Layers {
			layers = append(layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
		}
	}
	cfg.Created = &created
	for _, st := range o.Steps {
		h := st.History
		if h.Created == nil {
			h.Created = &created
		}
		if st.Blob == nil {
			h.EmptyLayer = true
		} else {
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, st.Blob.DiffID)
			layers = append(layers, ocispec.Descriptor{MediaType: st.Blob.MediaType, Digest: st.Blob.Digest, Size: st.Blob.Size})
		}
		cfg.History = append(cfg.History, h)
	}
	if o.Config != nil {
		if err := o.Config(&cfg); err != nil {
			return nil, err
		}
	}
	im, err := s.PutImage(&cfg, layers, o.Names)
	if err != nil {
		return nil, err
	}
	if o.Parent != nil && im.Parent == "" {
		im.Parent = o.Parent.ID
		err = s.Meta.Update(func(tx *metadata.Tx) error { return tx.Put(metadata.BucketImages, im.ID.String(), im) })
	}
	return im, err
}

// PutImage writes cfg and an OCI manifest of it and layers (whose blobs and
// records the store must have already), and adds the image (AddImage).
func (s *Store) PutImage(cfg *image.ConfigFile, layers []ocispec.Descriptor, names []image.Reference) (*metadata.Image, error) {
	return s.PutImageAnnotated(cfg, layers, names, nil)
}

// PutImageAnnotated is PutImage with annotations on the manifest (such as
// org.opencontainers.image.base.name).
func (s *Store) PutImageAnnotated(cfg *image.ConfigFile, layers []ocispec.Descriptor, names []image.Reference, annotations map[string]string) (*metadata.Image, error) {
	cd, err := s.PutJSON(ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return nil, err
	}
	md, err := s.PutJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageManifest,
		Config:      cd,
		Layers:      layers,
		Annotations: annotations,
	})
	if err != nil {
		return nil, err
	}
	return s.AddImage(md.Digest, names, nil)
}

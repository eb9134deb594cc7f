package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
)

// List is a manifest list being put together by `manifest create` and
// `manifest annotate`, kept as a file until `manifest push` sends it (as
// docker keeps ~/.docker/manifests). Sources remember where each entry
// lives, so push can copy (mount) it into the list's repository.
type List struct {
	Ref     string                   `json:"ref"`
	Index   ocispec.Index            `json:"index"`
	Sources map[digest.Digest]string `json:"sources"`
}

// ErrNoList is returned for a list that `manifest create` did not make.
var ErrNoList = errors.New("no such manifest list")

func listPath(root, ref string) string {
	return filepath.Join(root, string(store.ManifestLists), url.PathEscape(ref)+".json")
}

// LoadList reads a local manifest list.
func LoadList(root, s string) (*List, error) {
	r, err := image.ParseTagged(s)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(listPath(root, r.String()))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoList, r.Familiar())
	}
	if err != nil {
		return nil, err
	}
	var l List
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("manifest list %s is damaged: %v", r.Familiar(), err)
	}
	return &l, nil
}

// Save writes the list (atomically: a reader sees the old or the new one).
func (l *List) Save(root string) error {
	p := listPath(root, l.Ref)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// RemoveList deletes a local list.
func RemoveList(root, s string) error {
	r, err := image.ParseTagged(s)
	if err != nil {
		return err
	}
	err = os.Remove(listPath(root, r.String()))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNoList, r.Familiar())
	}
	return err
}

// Raw is the list as it will be pushed.
func (l *List) Raw() ([]byte, string, error) {
	b, err := json.MarshalIndent(l.Index, "", "   ")
	return b, l.Index.MediaType, err
}

// CreateList makes a manifest list of images already in registries: each
// entry is the image's manifest descriptor with the platform its config
// states. An image that is itself an index contributes its entries.
func (c *Client) CreateList(ctx context.Context, root, list string, images []string, amend bool) (*List, error) {
	lref, err := image.ParseTagged(list)
	if err != nil {
		return nil, err
	}
	l := &List{Ref: lref.String(), Sources: map[digest.Digest]string{}}
	if old, err := LoadList(root, list); err == nil {
		if !amend {
			return nil, fmt.Errorf("refusing to amend an existing manifest list with no --amend flag")
		}
		l = old
	}
	allDocker := true
	for _, s := range images {
		ref, iref, err := c.Ref(s)
		if err != nil {
			return nil, err
		}
		doc, err := c.GetManifest(ctx, ref)
		if err != nil {
			return nil, err
		}
		var entries []ocispec.Descriptor
		if image.IsIndex(doc.MediaType) {
			idx, _, err := image.ParseIndex(doc.Raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", iref.Familiar(), err)
			}
			entries = idx.Manifests
		} else {
			m, mt, err := image.ParseManifest(doc.Raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", iref.Familiar(), err)
			}
			plat, err := c.configPlatform(ctx, ref.Context(), m.Config)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", iref.Familiar(), err)
			}
			entries = []ocispec.Descriptor{{MediaType: mt, Digest: doc.Digest, Size: int64(len(doc.Raw)), Platform: plat}}
		}
		for _, e := range entries {
			if e.MediaType != image.MediaTypeDockerManifest {
				allDocker = false
			}
			l.Sources[e.Digest] = iref.Repository() + "@" + e.Digest.String()
			replaced := false
			for i := range l.Index.Manifests {
				if l.Index.Manifests[i].Digest == e.Digest {
					l.Index.Manifests[i], replaced = e, true
				}
			}
			if !replaced {
				l.Index.Manifests = append(l.Index.Manifests, e)
			}
		}
	}
	l.Index.Versioned = specs.Versioned{SchemaVersion: 2}
	if l.Index.MediaType == "" || l.Index.MediaType == image.MediaTypeDockerManifestList {
		if allDocker {
			l.Index.MediaType = image.MediaTypeDockerManifestList
		} else {
			l.Index.MediaType = ocispec.MediaTypeImageIndex
		}
	}
	return l, l.Save(root)
}

// configPlatform reads the platform an image's config states.
func (c *Client) configPlatform(ctx context.Context, repo name.Repository, cfg ocispec.Descriptor) (*ocispec.Platform, error) {
	if cfg.Size > image.MaxManifestSize {
		return nil, fmt.Errorf("image config of %d bytes is too large", cfg.Size)
	}
	rc, err := c.openBlob(ctx, repo, cfg.Digest)
	if err != nil {
		return nil, Explain(err, "config "+short(cfg.Digest))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, cfg.Size+1))
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(b) != cfg.Digest {
		return nil, fmt.Errorf("config %s: digest mismatch", short(cfg.Digest))
	}
	ic, err := image.ParseConfig(b)
	if err != nil {
		return nil, err
	}
	return &ocispec.Platform{OS: ic.OS, Architecture: ic.Architecture, Variant: ic.Variant, OSVersion: ic.OSVersion, OSFeatures: ic.OSFeatures}, nil
}

// Annotation is what `manifest annotate` may change of an entry.
type Annotation struct {
	OS, Arch, Variant, OSVersion string
	OSFeatures                   []string
	Annotations                  map[string]string
}

// Annotate changes the platform of the list's entry for img (a name or a
// digest given to create).
func (c *Client) Annotate(root, list, img string, a Annotation) error {
	l, err := LoadList(root, list)
	if err != nil {
		return err
	}
	want := ""
	if _, iref, err := c.Ref(img); err == nil {
		want = iref.Digest()
		if want == "" {
			// A tag: find the entry created from it by asking which source
			// repository it came from; several entries of one repository
			// need a digest.
			var hits []digest.Digest
			for d, src := range l.Sources {
				if r, err := image.ParseReference(src); err == nil && r.Repository() == iref.Repository() {
					hits = append(hits, d)
				}
			}
			if len(hits) != 1 {
				return fmt.Errorf("%s names %d entries of %s; give IMAGE@DIGEST", img, len(hits), list)
			}
			want = hits[0].String()
		}
	}
	for i := range l.Index.Manifests {
		e := &l.Index.Manifests[i]
		if e.Digest.String() != want {
			continue
		}
		if e.Platform == nil {
			e.Platform = &ocispec.Platform{}
		}
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&e.Platform.OS, a.OS)
		set(&e.Platform.Architecture, a.Arch)
		set(&e.Platform.Variant, a.Variant)
		set(&e.Platform.OSVersion, a.OSVersion)
		if a.OSFeatures != nil {
			e.Platform.OSFeatures = a.OSFeatures
		}
		for k, v := range a.Annotations {
			if e.Annotations == nil {
				e.Annotations = map[string]string{}
			}
			e.Annotations[k] = v
		}
		return l.Save(root)
	}
	return fmt.Errorf("manifest for image %s does not exist in %s", img, list)
}

// PushList sends a local list to its registry: the entries that live in
// other repositories are copied first (mounted when the registry is the
// same, streamed through otherwise), then the index.
func (c *Client) PushList(ctx context.Context, root, list string) (digest.Digest, int64, error) {
	l, err := LoadList(root, list)
	if err != nil {
		return "", 0, err
	}
	ref, _, err := c.Ref(l.Ref)
	if err != nil {
		return "", 0, err
	}
	repo := ref.Context()
	for _, e := range l.Index.Manifests {
		src, ok := l.Sources[e.Digest]
		if !ok {
			continue
		}
		sref, _, err := c.Ref(src)
		if err != nil {
			return "", 0, err
		}
		if sref.Context().String() == repo.String() {
			continue
		}
		if err := c.copyManifest(ctx, sref, repo); err != nil {
			return "", 0, err
		}
	}
	raw, mt, err := l.Raw()
	if err != nil {
		return "", 0, err
	}
	d, err := c.PutManifest(ctx, ref, raw, mt)
	return d, int64(len(raw)), err
}

// copyManifest copies one image manifest and its blobs from src (by digest)
// into repo of the same or another registry.
func (c *Client) copyManifest(ctx context.Context, src name.Reference, repo name.Repository) error {
	doc, err := c.GetManifest(ctx, src)
	if err != nil {
		return err
	}
	m, mt, err := image.ParseManifest(doc.Raw)
	if err != nil {
		return fmt.Errorf("%s: %v", src.Name(), err)
	}
	p, err := c.pusher(ctx)
	if err != nil {
		return err
	}
	pl, err := c.puller(ctx)
	if err != nil {
		return err
	}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if image.IsForeignLayer(d.MediaType) {
			continue
		}
		rl, err := pl.Layer(ctx, src.Context().Digest(d.Digest.String()))
		if err != nil {
			return Explain(err, "blob "+short(d.Digest))
		}
		// A remote layer is a MountableLayer: the pusher mounts it when
		// the registry is the same.
		if err := p.Upload(ctx, repo, rl); err != nil {
			return Explain(err, "blob "+short(d.Digest))
		}
	}
	_, err = c.PutManifest(ctx, repo.Digest(doc.Digest.String()), doc.Raw, mt)
	return err
}

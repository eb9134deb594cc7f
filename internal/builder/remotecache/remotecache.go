// Package remotecache keeps a build cache in a registry, as
// `strata build --cache-to type=registry,ref=R --cache-from type=registry,ref=R`
// uses it.
//
// A cache is an OCI image manifest at R: its config blob (media type
// ConfigMediaType) lists the cache records, each with its typed key, its
// history time and comment and the descriptor of its layer as pushed; its
// layers are those layer blobs. Importing reads the manifest and the config
// only: the layers are fetched one by one when a build needs their bytes
// (the final image's layers, or the files of a stage a later step runs on),
// so a machine downloads only what it uses.
package remotecache

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/builder"
	"github.com/strata-dev/strata/internal/builder/cache"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/store"
)

// ConfigMediaType is the media type of a cache manifest's config blob.
const ConfigMediaType = "application/vnd.strata.buildcache.config.v1+json"

// maxConfigSize bounds the config blob read from a registry.
const maxConfigSize = 64 << 20

// Config is the config blob: the records of the cache.
type Config struct {
	Version int     `json:"version"`
	Records []Entry `json:"records"`
}

// Entry is one cache record as exported.
type Entry struct {
	// KeyDigest is Key.Digest(), checked on import.
	KeyDigest string    `json:"keyDigest"`
	Key       cache.Key `json:"key"`
	Created   time.Time `json:"created"`
	Comment   string    `json:"comment,omitempty"`
	// Layer is the layer as the registry has it (digest, size and media
	// type of the pushed blob; diffID of its tar).
	Layer metadata.Layer `json:"layer"`
}

// Spec is one --cache-to or --cache-from value.
type Spec struct {
	Ref  string
	Mode string // "min" (default) or "max"
}

// ParseSpec reads "type=registry,ref=R[,mode=min|max]" (or a bare R, as
// docker reads --cache-from).
func ParseSpec(s string) (Spec, error) {
	if !strings.Contains(s, "=") {
		return Spec{Ref: s, Mode: "min"}, nil
	}
	sp := Spec{Mode: "min"}
	typ := ""
	for _, f := range strings.Split(s, ",") {
		if k, v, _ := strings.Cut(strings.TrimSpace(f), "="); k == "type" && v != "registry" {
			return sp, fmt.Errorf("invalid cache spec %q: only type=registry is supported", s)
		}
	}
	for _, f := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "type":
			typ = v
		case "ref":
			sp.Ref = v
		case "mode":
			if v != "min" && v != "max" {
				return sp, fmt.Errorf("invalid cache spec %q: mode must be min or max", s)
			}
			sp.Mode = v
		case "oci-mediatypes", "image-manifest", "compression", "ignore-error":
			// BuildKit's options: strata's format is always OCI.
		default:
			return sp, fmt.Errorf("invalid cache spec %q: unknown field %q", s, k)
		}
	}
	if typ != "" && typ != "registry" {
		return sp, fmt.Errorf("invalid cache spec %q: only type=registry is supported", s)
	}
	if sp.Ref == "" {
		return sp, fmt.Errorf("invalid cache spec %q: ref= is required", s)
	}
	return sp, nil
}

// Remote is an imported cache: its records in memory, its layers in the
// registry. It implements builder.RemoteCache.
type Remote struct {
	cl   *registry.Client
	st   *store.Store
	ref  name.Reference
	recs map[string]*cache.Record
}

var _ builder.RemoteCache = (*Remote)(nil)

// Import reads the cache at ref: its manifest and config blob, no layer.
// A ref that does not exist gives (nil, nil): the first build has nothing
// to import.
func Import(ctx context.Context, cl *registry.Client, st *store.Store, ref string) (*Remote, error) {
	nr, _, err := cl.Ref(ref)
	if err != nil {
		return nil, err
	}
	doc, err := cl.LookupManifest(ctx, nr)
	if err != nil || doc == nil {
		return nil, err
	}
	if !image.IsManifest(doc.MediaType) {
		return nil, fmt.Errorf("%s: not a build cache (a %s)", ref, doc.MediaType)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(doc.Raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", ref, err)
	}
	if m.Config.MediaType != ConfigMediaType {
		return nil, fmt.Errorf("%s: not a strata build cache (config is %s)", ref, m.Config.MediaType)
	}
	if m.Config.Size > maxConfigSize {
		return nil, fmt.Errorf("%s: cache config of %d bytes is too large", ref, m.Config.Size)
	}
	// The config is small: read it into memory through the store (its
	// digest checked), where it stays as an unreferenced blob gc removes.
	if _, err := cl.FetchBlobs(ctx, st, nr.Context(), []registry.Blob{{Desc: m.Config}}); err != nil {
		return nil, err
	}
	rc, err := st.OpenBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(rc, maxConfigSize))
	rc.Close()
	if err != nil {
		return nil, err
	}
	recs, err := records(raw, m.Layers)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", ref, err)
	}
	return &Remote{cl: cl, st: st, ref: nr, recs: recs}, nil
}

// records reads a cache config (bytes from a registry) into the records
// it can use with the manifest's layers.
func records(raw []byte, layers []ocispec.Descriptor) (map[string]*cache.Record, error) {
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("cache config: %v", err)
	}
	if cfg.Version != 1 {
		return nil, fmt.Errorf("cache config version %d is not supported", cfg.Version)
	}
	inManifest := map[digest.Digest]ocispec.Descriptor{}
	for _, l := range layers {
		inManifest[l.Digest] = l
	}
	recs := map[string]*cache.Record{}
	for _, e := range cfg.Records {
		// A record whose key does not hash to its name, or whose layer
		// the manifest does not list, is ignored: a miss, not a wrong hit.
		if e.Key.Digest() != e.KeyDigest {
			continue
		}
		d, ok := inManifest[e.Layer.Digest]
		if !ok || d.Size != e.Layer.Size || e.Layer.DiffID == "" {
			continue
		}
		l := e.Layer
		recs[e.KeyDigest] = &cache.Record{Key: e.Key, Layer: &l, Created: e.Created, Comment: e.Comment}
	}
	return recs, nil
}

// Len is the number of usable records.
func (r *Remote) Len() int { return len(r.recs) }

// Lookup implements builder.RemoteCache.
func (r *Remote) Lookup(kd string) *cache.Record {
	rec, ok := r.recs[kd]
	if !ok {
		return nil
	}
	c := *rec
	l := *rec.Layer
	c.Layer = &l
	return &c
}

// Fetch implements builder.RemoteCache: the layers are streamed into the
// store, digest and size checked and diffID computed on the way.
func (r *Remote) Fetch(ctx context.Context, layers []metadata.Layer) ([]metadata.Layer, error) {
	var blobs []registry.Blob
	for _, l := range layers {
		blobs = append(blobs, registry.Blob{Desc: ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}, Layer: true})
	}
	if _, err := r.cl.FetchBlobs(ctx, r.st, r.ref.Context(), blobs); err != nil {
		return nil, err
	}
	out := make([]metadata.Layer, len(layers))
	for i, l := range layers {
		rec, err := r.st.LayerRecord(l.Digest)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		out[i] = *rec
	}
	return out, nil
}

// Exporter writes a cache to a registry; Sources are the caches imported
// for the same build (a layer the store never fetched is mounted or
// fetched from them).
type Exporter struct {
	Client  *registry.Client
	Store   *store.Store
	Ref     string
	Sources []*Remote
}

// Export implements builder.CacheExport: every record's layer is uploaded
// (gzip-compressed when stored uncompressed; nothing is sent that the
// repository has), then the config blob, then the manifest at Ref.
func (x *Exporter) Export(ctx context.Context, e *builder.Export) error {
	nr, _, err := x.Client.Ref(x.Ref)
	if err != nil {
		return err
	}
	repo := nr.Context()
	type item struct {
		rec *cache.Record
		up  int
	}
	var items []item
	var ups []registry.Upload
	index := map[digest.Digest]int{}
	var toFetch map[*Remote][]metadata.Layer
	for _, r := range e.Records {
		if r.Layer == nil {
			continue
		}
		l := *r.Layer
		if i, ok := index[l.Digest]; ok {
			items = append(items, item{r, i})
			continue
		}
		u := registry.Upload{Desc: ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}, Layer: true,
			Compress: l.MediaType == ocispec.MediaTypeImageLayer || l.MediaType == image.MediaTypeDockerLayer}
		if from, ok := e.Pending[l.Digest]; ok {
			// Never fetched: the registry of the import has it. A mount
			// (same registry) moves no bytes; otherwise fetch it first.
			src := x.source(from)
			if src == nil {
				return fmt.Errorf("layer %s is neither in the store nor in an imported cache", l.Digest)
			}
			if src.ref.Context().RegistryStr() == repo.RegistryStr() {
				if src.ref.Context().Name() != repo.Name() {
					u.MountFrom = src.ref
				}
			} else {
				if toFetch == nil {
					toFetch = map[*Remote][]metadata.Layer{}
				}
				toFetch[src] = append(toFetch[src], l)
			}
		}
		index[l.Digest] = len(ups)
		items = append(items, item{r, len(ups)})
		ups = append(ups, u)
	}
	for src, ls := range toFetch {
		if _, err := src.Fetch(ctx, ls); err != nil {
			return err
		}
	}
	res, err := x.Client.UploadBlobs(ctx, x.Store, repo, ups)
	if err != nil {
		return err
	}
	cfg := Config{Version: 1}
	var layers []ocispec.Descriptor
	for _, u := range res {
		layers = append(layers, u.Desc)
	}
	for _, it := range items {
		d := res[it.up].Desc
		l := *it.rec.Layer
		l.Digest, l.Size, l.MediaType = d.Digest, d.Size, d.MediaType
		cfg.Records = append(cfg.Records, Entry{KeyDigest: it.rec.Key.Digest(), Key: it.rec.Key, Created: it.rec.Created.UTC(), Comment: it.rec.Comment, Layer: l})
	}
	sort.Slice(cfg.Records, func(i, j int) bool { return cfg.Records[i].KeyDigest < cfg.Records[j].KeyDigest })
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cd, err := x.Store.PutBytes(ConfigMediaType, raw)
	if err != nil {
		return err
	}
	if _, err := x.Client.UploadBlobs(ctx, x.Store, repo, []registry.Upload{{Desc: cd}}); err != nil {
		return err
	}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: layers}
	mraw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = x.Client.PutManifest(ctx, nr, mraw, ocispec.MediaTypeImageManifest)
	return err
}

func (x *Exporter) source(rc builder.RemoteCache) *Remote {
	for _, s := range x.Sources {
		if builder.RemoteCache(s) == rc {
			return s
		}
	}
	return nil
}

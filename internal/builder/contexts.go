package builder

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
)

// NamedContext is a --build-context: what `FROM NAME`, `COPY --from=NAME`
// and `RUN --mount=from=NAME` read instead of the image or stage NAME, as
// in BuildKit. Exactly one of Dir and Image is set.
type NamedContext struct {
	// Dir is a local directory: its files are the stage's root filesystem
	// (FROM) or the files copied (COPY --from).
	Dir string
	// Image is an image reference (docker-image://REF): used as if the
	// Dockerfile named REF.
	Image string
}

// ParseContexts reads --build-context values, NAME=docker-image://REF or
// NAME=DIR. Names are case-insensitive, as stage names are.
func ParseContexts(values []string) (map[string]NamedContext, error) {
	out := map[string]NamedContext{}
	for _, v := range values {
		name, val, ok := strings.Cut(v, "=")
		if !ok || name == "" || val == "" {
			return nil, fmt.Errorf("invalid --build-context %q: want NAME=DIR or NAME=docker-image://REF", v)
		}
		name = strings.ToLower(name)
		if _, err := image.ParseReference(name); err != nil && !strings.EqualFold(name, "scratch") {
			return nil, fmt.Errorf("invalid --build-context %q: %q is not a valid name: %v", v, name, err)
		}
		switch {
		case strings.HasPrefix(val, "docker-image://"):
			ref := strings.TrimPrefix(val, "docker-image://")
			if _, err := image.ParseReference(ref); err != nil {
				return nil, fmt.Errorf("invalid --build-context %q: %v", v, err)
			}
			out[name] = NamedContext{Image: ref}
		case strings.Contains(val, "://") || strings.HasPrefix(val, "git@"):
			scheme, _, _ := strings.Cut(val, "://")
			return nil, fmt.Errorf("invalid --build-context %q: %s sources are not supported (a directory or docker-image://REF)", v, scheme)
		default:
			abs, err := filepath.Abs(val)
			if err != nil {
				return nil, err
			}
			fi, err := os.Stat(abs)
			if err != nil {
				return nil, fmt.Errorf("invalid --build-context %q: %v", v, err)
			}
			if !fi.IsDir() {
				return nil, fmt.Errorf("invalid --build-context %q: %s is not a directory", v, val)
			}
			out[name] = NamedContext{Dir: abs}
		}
	}
	return out, nil
}

// namedContext returns the --build-context that replaces name (stages
// are looked up first by the callers: a stage of that name wins).
func (b *builder) namedContext(name string) (NamedContext, bool) {
	nc, ok := b.o.Contexts[strings.ToLower(name)]
	return nc, ok
}

// dirBase is the base of `FROM NAME` for a directory context: an image,
// not stored, with the directory as its one layer and BuildKit's config
// for a stage without image (default PATH, WorkingDir /). Its ID, the
// digest of that config, changes with the directory's content, so it is a
// cache key as an image ID is.
func (b *builder) dirBase(name, dir string, platform image.Platform, label string) (*metadata.Image, string, error) {
	v := b.prog.Vertex(label + " FROM " + name + " (build context " + dir + ")")
	l, err := b.writeLayer(func(w io.Writer) error {
		return layer.WriteTree(w, dir, layer.DiffOptions{Timestamp: b.o.Timestamp})
	})
	if err != nil {
		err = fmt.Errorf("build context %s: %w", name, err)
		v.Error(err)
		return nil, "", err
	}
	var cfg image.ConfigFile
	cfg.OS, cfg.Architecture, cfg.Variant = platform.OS, platform.Architecture, platform.Variant
	cfg.Config.Env = []string{defaultPath}
	cfg.Config.WorkingDir = "/"
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{l.DiffID}}
	d, err := b.st.PutJSON(ocispec.MediaTypeImageConfig, &cfg)
	if err != nil {
		v.Error(err)
		return nil, "", err
	}
	v.Done()
	return &metadata.Image{ID: d.Digest, Config: d, Layers: []metadata.Layer{*l}}, "context:" + name, nil
}

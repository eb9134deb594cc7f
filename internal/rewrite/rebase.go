package rewrite

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// RebaseOptions say how an image moves from one base to another.
type RebaseOptions struct {
	// Strict refuses a rebase when a layer above the base was made by a
	// command that ran on the old base (RUN): its content may depend on it.
	Strict bool
	// Names are given to the new image.
	Names []image.Reference
	// Created is the new image's creation time (default: now).
	Created *time.Time
}

// BasedLayer is a layer above the base that a command made by running on
// the old base, so it may be wrong on the new one (a package manager's
// database, a compiled binary linked to the old libc).
type BasedLayer struct {
	Index     int    // in the image
	CreatedBy string // its history entry
}

// RebasedBy is the created_by of the history entry a rebase adds.
const RebasedBy = "strata image rebase"

// Annotation keys of the manifest (image-spec annotations.go) that name the
// image's base.
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// Rebase writes a new image in the store made of newBase's layers and the
// layers src has above oldBase's. src's bottom layers must be exactly
// oldBase's. No layer is rewritten: the upper layers are the same blobs.
//
// The config is src's, with what src inherited from oldBase replaced by
// what newBase has: a field (an Env variable, a label, a port, a volume)
// whose value src did not change from oldBase's takes newBase's value, so
// the result is what building src's Dockerfile on newBase gives when its
// steps only add files. The history is newBase's, one empty_layer entry
// saying what was rebased, then src's entries above the base.
//
// The layers above the base made by running a command (RUN) are returned:
// they ran on the old base, and with o.Strict the rebase is refused.
func Rebase(ctx context.Context, st *store.Store, src, oldBase, newBase image.Source, o RebaseOptions) (*metadata.Image, []BasedLayer, error) {
	n, err := BaseLayers(src, oldBase)
	if err != nil {
		return nil, nil, err
	}
	sc, oc, nc := src.Config().File, oldBase.Config().File, newBase.Config().File
	if op, np := platformOf(oc), platformOf(nc); op != np {
		return nil, nil, fmt.Errorf("the new base is for %s, the old one for %s", np, op)
	}
	upperHistory, err := historyAbove(sc.History, oc.History, n)
	if err != nil {
		return nil, nil, err
	}
	based := ranOnBase(upperHistory, n)
	if o.Strict && len(based) > 0 {
		return nil, based, fmt.Errorf("layer %d (%s) ran on the old base and may differ on the new one (--strict)", based[0].Index, based[0].CreatedBy)
	}

	lk, err := st.Writing()
	if err != nil {
		return nil, nil, err
	}
	defer lk.Unlock()
	var descs []ocispec.Descriptor
	layers := append(append([]image.Layer(nil), newBase.Layers()...), src.Layers()[n:]...)
	for i, l := range layers {
		from := src
		if i < len(newBase.Layers()) {
			from = newBase
		}
		if err := storeLayer(ctx, st, from, l); err != nil {
			return nil, nil, err
		}
		descs = append(descs, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	}

	cfg := *sc
	cfg.Config = rebaseConfig(sc.Config, oc.Config, nc.Config)
	created := time.Now().UTC()
	if o.Created != nil {
		created = o.Created.UTC()
	}
	cfg.Created = &created
	cfg.RootFS.DiffIDs = nil
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
	}
	newName := newBase.Name()
	cfg.History = append(append([]ocispec.History(nil), nc.History...), ocispec.History{
		Created: &created, CreatedBy: RebasedBy, EmptyLayer: true,
		Comment: fmt.Sprintf("rebased from %s (%s) onto %s (%s)", nameOr(oldBase), oldBase.Manifest().Digest, nameOr(newBase), newBase.Manifest().Digest),
	})
	cfg.History = append(cfg.History, upperHistory...)
	annotations := map[string]string{AnnotationBaseDigest: newBase.Manifest().Digest.String()}
	if newName != "" {
		annotations[AnnotationBaseName] = newName
	}
	im, err := st.PutImageAnnotated(&cfg, descs, o.Names, annotations)
	return im, based, err
}

func nameOr(s image.Source) string {
	if n := s.Name(); n != "" {
		return n
	}
	return s.Config().Digest.String()
}

func platformOf(c *image.ConfigFile) string {
	p := c.OS + "/" + c.Architecture
	if c.Variant != "" {
		p += "/" + c.Variant
	}
	return p
}

// BaseLayers returns how many layers base has, after checking that they are
// the bottom layers of src.
func BaseLayers(src, base image.Source) (int, error) {
	bl, sl := base.Layers(), src.Layers()
	name := nameOr(src)
	if len(bl) > len(sl) {
		return 0, fmt.Errorf("%s is not built on %s: it has fewer layers", name, nameOr(base))
	}
	for i, l := range bl {
		if sl[i].DiffID != l.DiffID {
			return 0, fmt.Errorf("%s is not built on %s: layer %d differs", name, nameOr(base), i)
		}
	}
	return len(bl), nil
}

// historyAbove returns the entries of h that come after the base's: base's
// own entries when h starts with them, else the entries after the one that
// stands for the base's last layer (n layers), so that the entries still
// map to layers in order.
func historyAbove(h, base []ocispec.History, n int) ([]ocispec.History, error) {
	if len(h) >= len(base) {
		same := true
		for i := range base {
			if h[i].CreatedBy != base[i].CreatedBy || h[i].EmptyLayer != base[i].EmptyLayer {
				same = false
				break
			}
		}
		if same {
			return h[len(base):], nil
		}
	}
	if n == 0 {
		return h, nil
	}
	seen := 0
	for i, e := range h {
		if !e.EmptyLayer {
			seen++
			if seen == n {
				return h[i+1:], nil
			}
		}
	}
	if len(h) == 0 {
		return nil, nil // an image with no history (import) keeps none
	}
	return nil, fmt.Errorf("the image's history has %d layer entries, fewer than the base's %d layers", seen, n)
}

// ranOnBase lists the layer entries of the upper history made by running
// a command. firstLayer is the index of the first upper layer.
func ranOnBase(upper []ocispec.History, firstLayer int) []BasedLayer {
	var out []BasedLayer
	i := firstLayer
	for _, e := range upper {
		if e.EmptyLayer {
			continue
		}
		if isRun(e.CreatedBy) {
			out = append(out, BasedLayer{Index: i, CreatedBy: e.CreatedBy})
		}
		i++
	}
	return out
}

// isRun tells a RUN step's created_by from the other instructions': docker
// and BuildKit write "RUN /bin/sh -c ..." (BuildKit) or "/bin/sh -c ..."
// (the classic builder), and mark the rest "#(nop)" or by their name (COPY,
// ADD, WORKDIR).
func isRun(createdBy string) bool {
	s := strings.TrimSpace(createdBy)
	if strings.HasPrefix(s, "RUN ") || strings.HasPrefix(s, "|") {
		return true
	}
	return strings.HasPrefix(s, "/bin/sh -c ") && !strings.Contains(s, "#(nop)")
}

// rebaseConfig is src's runtime config with what src inherited unchanged
// from old taken from new instead, field by field (Env, Labels,
// ExposedPorts and Volumes entry by entry).
func rebaseConfig(src, old, new image.ContainerConfig) image.ContainerConfig {
	out := src
	out.Env = rebaseEnv(src.Env, old.Env, new.Env)
	out.Labels = rebaseMap(src.Labels, old.Labels, new.Labels)
	out.ExposedPorts = rebaseMap(src.ExposedPorts, old.ExposedPorts, new.ExposedPorts)
	out.Volumes = rebaseMap(src.Volumes, old.Volumes, new.Volumes)
	inherit := func(s, o, n any, set func()) {
		if reflect.DeepEqual(s, o) {
			set()
		}
	}
	inherit(src.User, old.User, new.User, func() { out.User = new.User })
	inherit(src.WorkingDir, old.WorkingDir, new.WorkingDir, func() { out.WorkingDir = new.WorkingDir })
	inherit(src.StopSignal, old.StopSignal, new.StopSignal, func() { out.StopSignal = new.StopSignal })
	inherit(src.Entrypoint, old.Entrypoint, new.Entrypoint, func() { out.Entrypoint = new.Entrypoint })
	inherit(src.Cmd, old.Cmd, new.Cmd, func() { out.Cmd = new.Cmd })
	inherit(src.Shell, old.Shell, new.Shell, func() { out.Shell = new.Shell })
	inherit(src.Healthcheck, old.Healthcheck, new.Healthcheck, func() { out.Healthcheck = new.Healthcheck })
	return out
}

// rebaseEnv merges environment lists: the new base's variables in its
// order (with src's value where src changed the old base's), then the
// variables src added, in src's order. A variable the new base dropped and
// src did not change is dropped.
func rebaseEnv(src, old, new []string) []string {
	split := func(env []string) (map[string]string, []string) {
		m := map[string]string{}
		var order []string
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			if _, ok := m[k]; !ok {
				order = append(order, k)
			}
			m[k] = v
		}
		return m, order
	}
	sm, sorder := split(src)
	om, _ := split(old)
	nm, norder := split(new)
	var out []string
	for _, k := range norder {
		v := nm[k]
		if sv, ok := sm[k]; ok && (sv != om[k] || !has(om, k)) {
			v = sv // src set it itself
		}
		out = append(out, k+"="+v)
	}
	for _, k := range sorder {
		if _, inNew := nm[k]; inNew {
			continue
		}
		if ov, inOld := om[k]; inOld && ov == sm[k] {
			continue // inherited from the old base, which the new one dropped
		}
		out = append(out, k+"="+sm[k])
	}
	return out
}

func has(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// rebaseMap merges maps key by key the way rebaseEnv does.
func rebaseMap[V any](src, old, new map[string]V) map[string]V {
	if src == nil && old == nil && new == nil {
		return nil
	}
	out := map[string]V{}
	for k, v := range new {
		out[k] = v
	}
	for k, sv := range src {
		ov, inOld := old[k]
		switch {
		case !inOld:
			out[k] = sv // src added it
		case !reflect.DeepEqual(sv, ov):
			out[k] = sv // src changed it
		}
	}
	for k := range old {
		if _, inSrc := src[k]; !inSrc {
			delete(out, k) // src removed it (a LABEL cannot, but a commit can)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

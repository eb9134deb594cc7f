// Package imagediff compares two images: their layers (shared or not, by
// content), the files of their root filesystems and their configs. It is
// how a user checks what a rebuild, a squash or a rebase really changed.
package imagediff

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/sbom"
)

// Result is the difference between image A and image B.
type Result struct {
	A      string        `json:"a"`
	B      string        `json:"b"`
	Layers []LayerChange `json:"layers"`
	Files  []FileChange  `json:"files"`
	Config []ConfigDiff  `json:"config"`
	// Packages are the packages of the final filesystems that differ.
	Packages []PackageChange `json:"packages"`
	// Findings are the advisories that apply to one image only; nil
	// unless MatchFindings ran.
	Findings []FindingChange `json:"findings,omitempty"`

	// The images' package inventories, for MatchFindings.
	sbomA, sbomB *sbom.SBOM
}

// Where says which images have a layer.
type Where string

const (
	Shared Where = "shared"
	OnlyA  Where = "only-a"
	OnlyB  Where = "only-b"
)

// LayerChange is one layer of A or B, matched by its content (diffID), so
// the same tar in another compression is still the same layer.
type LayerChange struct {
	Where  Where         `json:"where"`
	DiffID digest.Digest `json:"diffID"`
	// IndexA and IndexB are the layer's place in each image (-1: absent).
	IndexA int   `json:"indexA"`
	IndexB int   `json:"indexB"`
	Size   int64 `json:"size"` // of the blob
}

// Kind is how a path differs.
type Kind string

const (
	Added   Kind = "A"
	Deleted Kind = "D"
	Changed Kind = "C"
)

// FileChange is a path of the root filesystem that differs.
type FileChange struct {
	Kind  Kind   `json:"kind"`
	Path  string `json:"path"` // absolute
	SizeA int64  `json:"sizeA"`
	SizeB int64  `json:"sizeB"`
	// What is the list of properties that changed (content, mode, owner,
	// type, link, xattrs, device) for a Changed path.
	What []string `json:"what,omitempty"`
}

// ConfigDiff is a config field whose values differ.
type ConfigDiff struct {
	Field string          `json:"field"`
	A     json.RawMessage `json:"a"`
	B     json.RawMessage `json:"b"`
}

// Compare reads both images' layers (each distinct layer once, for its
// files and its packages in one pass) and returns what differs.
func Compare(ctx context.Context, a, b image.Source) (*Result, error) {
	res := &Result{A: a.Name(), B: b.Name(), Layers: compareLayers(a.Layers(), b.Layers())}
	read := map[digest.Digest]*readLayer{} // by diffID: a layer shared is read once
	fsA, err := rootfsOf(ctx, a, read)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nameOr(a, "image A"), err)
	}
	fsB, err := rootfsOf(ctx, b, read)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nameOr(b, "image B"), err)
	}
	res.Files = compareFiles(fsA, fsB)
	res.sbomA, res.sbomB = inventory(a, read), inventory(b, read)
	res.Packages = comparePackages(res.sbomA, res.sbomB)
	res.Config, err = compareConfigs(a.Config().File, b.Config().File)
	return res, err
}

func nameOr(s image.Source, def string) string {
	if n := s.Name(); n != "" {
		return n
	}
	return def
}

// readLayer is what one layer's read gave: its entries and its packages.
type readLayer struct {
	entries []entry
	scan    *sbom.LayerScan
}

func rootfsOf(ctx context.Context, src image.Source, read map[digest.Digest]*readLayer) (*rootfs, error) {
	fs := newRootfs()
	for i, l := range src.Layers() {
		rl, ok := read[l.DiffID]
		if !ok {
			rl = &readLayer{scan: sbom.NewLayerScan()}
			var err error
			if rl.entries, err = layerEntries(ctx, src, l.Digest, rl.scan); err != nil {
				return nil, fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
			}
			read[l.DiffID] = rl
		}
		if err := fs.apply(rl.entries); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
		}
	}
	return fs, nil
}

// compareLayers lists A's layers, then B's layers that A lacks.
func compareLayers(a, b []image.Layer) []LayerChange {
	inB := map[digest.Digest]int{}
	for i := len(b) - 1; i >= 0; i-- {
		inB[b[i].DiffID] = i
	}
	inA := map[digest.Digest]bool{}
	var out []LayerChange
	for i, l := range a {
		inA[l.DiffID] = true
		c := LayerChange{Where: OnlyA, DiffID: l.DiffID, IndexA: i, IndexB: -1, Size: l.Size}
		if j, ok := inB[l.DiffID]; ok {
			c.Where, c.IndexB = Shared, j
		}
		out = append(out, c)
	}
	for j, l := range b {
		if !inA[l.DiffID] {
			out = append(out, LayerChange{Where: OnlyB, DiffID: l.DiffID, IndexA: -1, IndexB: j, Size: l.Size})
		}
	}
	return out
}

// compareFiles lists the paths that differ, sorted. Every path below an
// added or deleted directory is listed too, as docker diff does, so that
// the sizes add up.
func compareFiles(a, b *rootfs) []FileChange {
	var out []FileChange
	for p, fa := range a.files {
		if p == "." {
			continue
		}
		fb, ok := b.files[p]
		if !ok {
			out = append(out, FileChange{Kind: Deleted, Path: "/" + p, SizeA: fa.size})
			continue
		}
		if what := changes(fa, fb); len(what) > 0 {
			out = append(out, FileChange{Kind: Changed, Path: "/" + p, SizeA: fa.size, SizeB: fb.size, What: what})
		}
	}
	for p, fb := range b.files {
		if _, ok := a.files[p]; !ok && p != "." {
			out = append(out, FileChange{Kind: Added, Path: "/" + p, SizeB: fb.size})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// changes names the properties in which two versions of a path differ.
func changes(a, b file) []string {
	var what []string
	add := func(differ bool, name string) {
		if differ {
			what = append(what, name)
		}
	}
	add(a.typ != b.typ, "type")
	add(a.typ == b.typ && (a.size != b.size || a.sum != b.sum), "content")
	add(a.link != b.link, "link")
	add(a.mode != b.mode, "mode")
	add(a.uid != b.uid || a.gid != b.gid, "owner")
	add(a.xattrs != b.xattrs, "xattrs")
	add(a.dev != b.dev, "device")
	return what
}

// compareConfigs lists the fields of the image config (the runtime config
// and the platform) whose values differ. History and rootfs are left out:
// the layers say that part.
func compareConfigs(a, b *image.ConfigFile) ([]ConfigDiff, error) {
	fields := func(c *image.ConfigFile) map[string]any {
		return map[string]any{
			"Architecture": c.Architecture, "OS": c.OS, "Variant": c.Variant,
			"User": c.Config.User, "Env": c.Config.Env, "Entrypoint": c.Config.Entrypoint,
			"Cmd": c.Config.Cmd, "WorkingDir": c.Config.WorkingDir, "Labels": c.Config.Labels,
			"ExposedPorts": c.Config.ExposedPorts, "Volumes": c.Config.Volumes,
			"StopSignal": c.Config.StopSignal, "Healthcheck": c.Config.Healthcheck,
			"OnBuild": c.Config.OnBuild, "Shell": c.Config.Shell,
		}
	}
	fa, fb := fields(a), fields(b)
	var names []string
	for k := range fa {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []ConfigDiff
	for _, k := range names {
		if reflect.DeepEqual(fa[k], fb[k]) {
			continue
		}
		ja, err := json.Marshal(fa[k])
		if err != nil {
			return nil, err
		}
		jb, err := json.Marshal(fb[k])
		if err != nil {
			return nil, err
		}
		if string(ja) == string(jb) { // nil and empty are the same to a user
			continue
		}
		out = append(out, ConfigDiff{Field: k, A: ja, B: jb})
	}
	return out, nil
}

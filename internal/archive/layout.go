package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
)

// Annotations naming an image in an index.
const (
	AnnotationRefName       = ocispec.AnnotationRefName // "org.opencontainers.image.ref.name"
	AnnotationContainerName = "io.containerd.image.name"
)

// maxSmall bounds a JSON file of an archive (manifest.json, index.json, a
// config or a manifest); maxSmallTotal bounds all of them together.
const (
	maxSmall      = image.MaxManifestSize
	maxSmallTotal = 256 << 20
)

// cleanName checks an entry name or a path named by a manifest and returns
// its canonical form (no "./", no trailing slash).
func cleanName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("invalid path %q in the archive", name)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("invalid path %q in the archive: absolute", name)
	}
	for _, p := range strings.Split(name, "/") {
		if p == ".." {
			return "", fmt.Errorf("invalid path %q in the archive: it leaves the archive", name)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", fmt.Errorf("invalid path %q in the archive", name)
	}
	return c, nil
}

// linkTarget resolves a symbolic link's target relative to the link, or a
// hard link's (relative to the archive root), inside the archive.
func linkTarget(name, target string, hard bool) (string, error) {
	if strings.HasPrefix(target, "/") {
		return "", fmt.Errorf("link %s points outside the archive (%s)", name, target)
	}
	t := target
	if !hard {
		t = path.Join(path.Dir(name), target)
	} else {
		t = path.Clean(t)
	}
	if t == ".." || strings.HasPrefix(t, "../") || t == "." {
		return "", fmt.Errorf("link %s points outside the archive (%s)", name, target)
	}
	return t, nil
}

// blobDigest returns the digest a blobs/<alg>/<hex> name declares, or "".
func blobDigest(name string) (digest.Digest, error) {
	rest, ok := strings.CutPrefix(name, "blobs/")
	if !ok {
		return "", nil
	}
	alg, enc, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(enc, "/") {
		return "", nil
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), enc)
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("invalid blob name %s in the archive", name)
	}
	return d, nil
}

// hintDigest returns the digest that a docker-archive layer name made by
// skopeo or podman (<hex>.tar) suggests, or "". It is only a hint: a layer
// is taken from the store instead of the archive only when the store holds
// a verified layer whose diffID is the one the image config names.
func hintDigest(name string) digest.Digest {
	base := path.Base(name)
	hex, ok := strings.CutSuffix(base, ".tar")
	if !ok {
		return ""
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hex)
	if d.Validate() != nil {
		return ""
	}
	return d
}

func blobPath(d digest.Digest) string {
	return "blobs/" + string(d.Algorithm()) + "/" + d.Encoded()
}

// files is what parsing needs of an archive's files.
type files interface {
	// resolve follows links to the canonical name of a regular file;
	// it fails for a missing file.
	resolve(name string) (string, error)
	// small reads a (resolved) JSON file whole.
	small(name string) ([]byte, error)
}

// rawImage is an image as the archive describes it.
type rawImage struct {
	names          []string // full references
	config         []byte
	configDigest   digest.Digest
	manifest       []byte // OCI layout: the manifest blob, byte-exact
	manifestDigest digest.Digest
	layers         []rawLayer
}

type rawLayer struct {
	path   string             // canonical entry name
	desc   ocispec.Descriptor // OCI layout only
	diffID digest.Digest      // from the config
}

// dockerManifest is one entry of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func exists(fs files, name string) bool {
	_, err := fs.resolve(name)
	return err == nil
}

// parseArchive reads manifest.json or index.json and describes each image.
// An archive with both (docker 25+) is read through index.json, which keeps
// the manifests byte-exact, when all its blobs are there; names come from
// both.
func parseArchive(fs files) ([]rawImage, error) {
	hasIndex, hasManifest := exists(fs, "index.json"), exists(fs, "manifest.json")
	switch {
	case hasIndex && hasManifest:
		imgs, err := parseOCI(fs, nil)
		if err != nil {
			return parseDocker(fs)
		}
		dimgs, err := parseDocker(fs)
		if err != nil {
			return nil, err
		}
		// Names: merge manifest.json's RepoTags by image ID.
		byID := map[digest.Digest][]string{}
		for _, d := range dimgs {
			byID[d.configDigest] = append(byID[d.configDigest], d.names...)
		}
		for i := range imgs {
			imgs[i].names = image.MergeNames(imgs[i].names, byID[imgs[i].configDigest])
		}
		return imgs, nil
	case hasManifest:
		return parseDocker(fs)
	case hasIndex:
		return parseOCI(fs, nil)
	}
	return nil, errors.New("invalid archive: it has neither manifest.json (docker-archive) nor index.json (OCI layout)")
}

func readJSON(fs files, name string, v any) ([]byte, error) {
	r, err := fs.resolve(name)
	if err != nil {
		return nil, err
	}
	b, err := fs.small(r)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("malformed %s in the archive: %v", name, err)
	}
	return b, nil
}

func parseDocker(fs files) ([]rawImage, error) {
	var ms []dockerManifest
	if _, err := readJSON(fs, "manifest.json", &ms); err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errors.New("invalid archive: manifest.json lists no image")
	}
	var out []rawImage
	for _, m := range ms {
		var im rawImage
		if m.Config == "" {
			return nil, errors.New("invalid archive: an image of manifest.json has no Config")
		}
		cp, err := cleanName(m.Config)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
		rp, err := fs.resolve(cp)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
		if im.config, err = fs.small(rp); err != nil {
			return nil, err
		}
		im.configDigest = digest.FromBytes(im.config)
		cfg, err := image.ParseConfig(im.config)
		if err != nil {
			return nil, fmt.Errorf("image config %s: %w", m.Config, err)
		}
		if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("invalid archive: manifest.json lists %d layers for %s, its config %d", len(m.Layers), m.Config, len(cfg.RootFS.DiffIDs))
		}
		for i, l := range m.Layers {
			lp, err := cleanName(l)
			if err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			if lp, err = fs.resolve(lp); err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			im.layers = append(im.layers, rawLayer{path: lp, diffID: cfg.RootFS.DiffIDs[i]})
		}
		for _, t := range m.RepoTags {
			r, err := image.ParseTagged(t)
			if err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			im.names = image.MergeNames(im.names, []string{r.String()})
		}
		out = append(out, im)
	}
	return out, nil
}

// rawIndex is a multi-platform image of an OCI layout whose every
// platform's image is in the archive: load keeps it whole.
type rawIndex struct {
	raw    []byte
	digest digest.Digest
	names  []string
}

// parseOCI reads an OCI layout's index.json. An entry that is an index
// gives the image of this machine's platform, or, when multi is not nil
// and every image manifest it lists is in the archive, all of them
// (without names) and a rawIndex in multi that has the names.
func parseOCI(fs files, multi *[]rawIndex) ([]rawImage, error) {
	if exists(fs, "oci-layout") {
		var l ocispec.ImageLayout
		if _, err := readJSON(fs, "oci-layout", &l); err != nil {
			return nil, err
		}
		if l.Version != ocispec.ImageLayoutVersion {
			return nil, fmt.Errorf("unsupported OCI layout version %q", l.Version)
		}
	}
	r, err := fs.resolve("index.json")
	if err != nil {
		return nil, err
	}
	b, err := fs.small(r)
	if err != nil {
		return nil, err
	}
	idx, _, err := image.ParseIndex(b)
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var out []rawImage
	pos := map[digest.Digest]int{}
	for _, d := range idx.Manifests {
		if multi != nil && image.IsIndex(d.MediaType) {
			entries, raw, err := wholeIndex(fs, d)
			if err != nil {
				return nil, err
			}
			if entries != nil {
				for _, e := range entries {
					if _, ok := pos[e.manifestDigest]; !ok {
						pos[e.manifestDigest] = len(out)
						out = append(out, e)
					}
				}
				*multi = append(*multi, rawIndex{raw: raw, digest: d.Digest, names: ociNames(d.Annotations)})
				continue
			}
		}
		im, err := ociImage(fs, d, 0)
		if err != nil {
			return nil, err
		}
		if im == nil {
			continue // not an image (an attestation, a signature...)
		}
		names := ociNames(d.Annotations)
		if i, ok := pos[im.manifestDigest]; ok {
			out[i].names = image.MergeNames(out[i].names, names)
			continue
		}
		im.names = names
		pos[im.manifestDigest] = len(out)
		out = append(out, *im)
	}
	if len(out) == 0 {
		return nil, errors.New("invalid archive: index.json lists no image")
	}
	return out, nil
}

// wholeIndex reads the image of every platform of the index d names, or
// nothing (nil) when one of them is not in the archive.
func wholeIndex(fs files, d ocispec.Descriptor) ([]rawImage, []byte, error) {
	b, err := readBlob(fs, d.Digest)
	if err != nil {
		return nil, nil, err
	}
	idx, _, err := image.ParseIndex(b)
	if err != nil {
		return nil, nil, err
	}
	var out []rawImage
	for _, m := range idx.Manifests {
		if !image.IsManifest(m.MediaType) || m.Platform == nil || m.Platform.OS == "unknown" {
			continue // an attestation: kept in the index blob only
		}
		if !exists(fs, blobPath(m.Digest)) {
			return nil, nil, nil
		}
		im, err := ociImage(fs, m, 1)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, *im)
	}
	if len(out) == 0 {
		return nil, nil, nil
	}
	return out, b, nil
}

// ociNames reads the names an index entry's annotations give.
func ociNames(a map[string]string) []string {
	var out []string
	if n := a[AnnotationContainerName]; n != "" {
		if r, err := image.ParseTagged(n); err == nil {
			out = append(out, r.String())
		}
	}
	if n := a[AnnotationRefName]; n != "" && len(out) == 0 && strings.ContainsAny(n, ":/") {
		// A bare tag ("latest") names no repository.
		if r, err := image.ParseTagged(n); err == nil {
			out = append(out, r.String())
		}
	}
	return out
}

func readBlob(fs files, d digest.Digest) ([]byte, error) {
	p, err := fs.resolve(blobPath(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	b, err := fs.small(p)
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s in the archive does not match its digest", d)
	}
	return b, nil
}

// ociImage follows a descriptor to an image manifest (through nested
// indexes, choosing this platform's manifest) and reads its config.
func ociImage(fs files, d ocispec.Descriptor, depth int) (*rawImage, error) {
	if depth > 4 {
		return nil, errors.New("invalid archive: indexes nested too deep")
	}
	switch {
	case image.IsIndex(d.MediaType):
		b, err := readBlob(fs, d.Digest)
		if err != nil {
			return nil, err
		}
		idx, _, err := image.ParseIndex(b)
		if err != nil {
			return nil, err
		}
		var pick *ocispec.Descriptor
		for i, m := range idx.Manifests {
			if !image.IsManifest(m.MediaType) || !exists(fs, blobPath(m.Digest)) {
				continue
			}
			if m.Platform == nil || m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
				pick = &idx.Manifests[i]
				break
			}
			if pick == nil {
				pick = &idx.Manifests[i]
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("invalid archive: index %s has no image manifest in the archive", d.Digest)
		}
		return ociImage(fs, *pick, depth+1)
	case image.IsManifest(d.MediaType) || d.MediaType == "":
	default:
		return nil, nil
	}
	b, err := readBlob(fs, d.Digest)
	if err != nil {
		return nil, err
	}
	m, _, err := image.ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	im := &rawImage{manifest: b, manifestDigest: d.Digest, configDigest: m.Config.Digest}
	if im.config, err = readBlob(fs, m.Config.Digest); err != nil {
		return nil, err
	}
	cfg, err := image.ParseConfig(im.config)
	if err != nil {
		return nil, fmt.Errorf("image config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("invalid image %s: the manifest lists %d layers, the config %d", d.Digest, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	for i, l := range m.Layers {
		if !image.IsLayer(l.MediaType) {
			return nil, fmt.Errorf("invalid image %s: layer %d has media type %q", d.Digest, i, l.MediaType)
		}
		p, err := fs.resolve(blobPath(l.Digest))
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		im.layers = append(im.layers, rawLayer{path: p, desc: l, diffID: cfg.RootFS.DiffIDs[i]})
	}
	return im, nil
}

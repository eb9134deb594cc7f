// Package sbom lists the packages an image ships, layer by layer: for each
// package the layer that added it and the layer (if any) that removed or
// replaced it. A package a later layer deletes is hidden from the final
// filesystem but still shipped in its layer's blob, so it is listed too.
//
// Each layer's tar is read once, as a stream; only the files a cataloger
// wants (package databases, executables) are read into memory, one at a
// time and with a size cap.
package sbom

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/strata-dev/strata/internal/image"
)

// Ecosystems, named as OSV names them so that a package's ecosystem is the
// advisory database's.
const (
	Debian = "Debian"
	Alpine = "Alpine"
	// RPM packages have no one OSV ecosystem: each distribution that
	// publishes advisories has its own (AlmaLinux, Rocky Linux, Red Hat),
	// which internal/vuln picks from the image's os-release.
	RPM  = "RPM"
	Go   = "Go"
	PyPI = "PyPI"
	Npm  = "npm"
)

// Package is one package found in one layer.
type Package struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Ecosystem string `json:"ecosystem"`
	// Source is the source package of a binary one (dpkg's Source:, apk's
	// origin): distributions' advisories are keyed by it.
	Source        string `json:"source,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	Arch          string `json:"arch,omitempty"`
	PURL          string `json:"purl"`
	// Path is the file the package was read from (a package database, a
	// binary, a METADATA file), without a leading slash.
	Path string `json:"path"`
	// Layer is the index (from 0, as in history) of the layer that added it.
	Layer int `json:"layer"`
	// RemovedIn is the layer that deleted or replaced it; -1 while it is
	// in the final filesystem.
	RemovedIn int `json:"removedIn"`
	// ReplacedBy is the version that replaced it in RemovedIn ("" when it
	// was deleted).
	ReplacedBy string `json:"replacedBy,omitempty"`
}

// Present reports whether the package is in the final filesystem.
func (p *Package) Present() bool { return p.RemovedIn < 0 }

// Distro is the operating system of the image, from its os-release.
type Distro struct {
	ID         string `json:"id"`
	VersionID  string `json:"versionID,omitempty"`
	PrettyName string `json:"prettyName,omitempty"`
}

// Layer is one layer of the image as the SBOM describes it.
type Layer struct {
	Index       int    `json:"index"`
	Digest      string `json:"digest"`
	Instruction string `json:"instruction"`
	// Packages counts the packages this layer added.
	Packages int `json:"packages"`
}

// SBOM is every package of every layer of one image.
type SBOM struct {
	Image    string    `json:"image"`
	ImageID  string    `json:"imageID"`
	Distro   *Distro   `json:"distro,omitempty"`
	Layers   []Layer   `json:"layers"`
	Packages []Package `json:"packages"`
	// Warnings are the files that could not be read (one line each).
	Warnings []string `json:"warnings,omitempty"`
}

// LayerReader is one layer to catalog: Open returns its blob as stored
// (compressed or not).
type LayerReader struct {
	Digest string
	Open   func() (io.ReadCloser, error)
}

// Generate lists the packages of src, which must stay open meanwhile.
func Generate(ctx context.Context, src image.Source) (*SBOM, error) {
	open := src.OpenBlob
	if uo, ok := src.(image.UnverifiedOpener); ok {
		// Nothing read here is stored: the digest check is not needed.
		open = uo.OpenBlobUnverified
	}
	var layers []LayerReader
	for _, l := range src.Layers() {
		d := l.Digest
		layers = append(layers, LayerReader{Digest: d.String(),
			Open: func() (io.ReadCloser, error) { return open(ctx, d) }})
	}
	s, err := FromLayers(ctx, layers)
	if err != nil {
		return nil, err
	}
	s.Image, s.ImageID = src.Name(), src.Config().Digest.String()
	instr := image.LayerInstructions(src.Config().File.History, len(s.Layers))
	for i := range s.Layers {
		s.Layers[i].Instruction = instr[i]
	}
	return s, nil
}

// FromLayers lists the packages of layers, bottom first. Layers are read
// in parallel; what each removes is applied in order.
func FromLayers(ctx context.Context, layers []LayerReader) (*SBOM, error) {
	found := make([]*layerFiles, len(layers))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, l := range layers {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			rc, err := l.Open()
			if err != nil {
				return fmt.Errorf("layer %d: %w", i, err)
			}
			defer rc.Close()
			lf, err := readLayer(rc)
			if err != nil {
				return fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
			}
			found[i] = lf
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	digests := make([]string, len(layers))
	for i, l := range layers {
		digests[i] = l.Digest
	}
	return assemble(found, digests), nil
}

// Assemble makes the SBOM of an image from the scans of its layers,
// bottom first, with their digests.
func Assemble(scans []*LayerScan, digests []string) *SBOM {
	found := make([]*layerFiles, len(scans))
	for i, sc := range scans {
		found[i] = sc.lf
	}
	return assemble(found, digests)
}

// assemble applies each layer's files in order.
func assemble(found []*layerFiles, digests []string) *SBOM {
	s := &SBOM{}
	st := newStack()
	for i, lf := range found {
		s.Layers = append(s.Layers, Layer{Index: i, Digest: digests[i]})
		st.apply(i, lf)
		s.Warnings = append(s.Warnings, lf.warnings...)
		if lf.distro != nil {
			s.Distro = lf.distro
		}
	}
	s.Packages = st.all()
	for i := range s.Packages {
		p := &s.Packages[i]
		s.Layers[p.Layer].Packages++
		p.PURL = purlOf(p, s.Distro)
	}
	return s
}

// Present returns the packages of the final filesystem.
func (s *SBOM) Present() []Package {
	var out []Package
	for _, p := range s.Packages {
		if p.Present() {
			out = append(out, p)
		}
	}
	return out
}

// sortPackages orders packages by layer, ecosystem, name, version, path.
func sortPackages(ps []Package) {
	slices.SortStableFunc(ps, func(a, b Package) int {
		if a.Layer != b.Layer {
			return a.Layer - b.Layer
		}
		for _, c := range [][2]string{{a.Ecosystem, b.Ecosystem}, {a.Name, b.Name}, {a.Version, b.Version}, {a.Path, b.Path}} {
			if n := strings.Compare(c[0], c[1]); n != 0 {
				return n
			}
		}
		return 0
	})
}

// getenv is os.Getenv, a variable for tests.
var getenv = os.Getenv

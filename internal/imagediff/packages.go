package imagediff

import (
	"cmp"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/sbom"
	"github.com/strata-dev/strata/internal/vuln"
)

// PackageChange is a package of the final filesystems that differs: only
// B has it (A), only A (D), or both at other versions (C).
type PackageChange struct {
	Kind      Kind   `json:"kind"`
	Name      string `json:"name"`
	Ecosystem string `json:"ecosystem"`
	Path      string `json:"path"`
	VersionA  string `json:"versionA,omitempty"`
	VersionB  string `json:"versionB,omitempty"`
}

// FindingChange is an advisory that applies to the final filesystem of
// one image only: "fixed" (A's has it, B's does not: Finding is A's) or
// "added" (B's has it: Finding is B's).
type FindingChange struct {
	Change string `json:"change"`
	vuln.Finding
	// ShippedInB is, for a fixed finding, the layer of B that still ships
	// the package (a later layer removed or replaced it); -1 when B ships
	// it nowhere.
	ShippedInB int `json:"shippedInB"`
}

// inventory is the package inventory of src from its layers' scans.
func inventory(src image.Source, read map[digest.Digest]*readLayer) *sbom.SBOM {
	var scans []*sbom.LayerScan
	var digests []string
	for _, l := range src.Layers() {
		scans = append(scans, read[l.DiffID].scan)
		digests = append(digests, l.Digest.String())
	}
	return sbom.Assemble(scans, digests)
}

// comparePackages lists the present packages that differ, a package being
// its ecosystem, name, architecture and the file it was read from.
func comparePackages(a, b *sbom.SBOM) []PackageChange {
	key := func(p *sbom.Package) string {
		return p.Ecosystem + "\x00" + p.Name + "\x00" + p.Arch + "\x00" + p.Path
	}
	present := func(s *sbom.SBOM) map[string]*sbom.Package {
		m := map[string]*sbom.Package{}
		for i := range s.Packages {
			if p := &s.Packages[i]; p.Present() {
				m[key(p)] = p
			}
		}
		return m
	}
	inA, inB := present(a), present(b)
	out := []PackageChange{}
	for k, pa := range inA {
		c := PackageChange{Kind: Deleted, Name: pa.Name, Ecosystem: pa.Ecosystem, Path: pa.Path, VersionA: pa.Version}
		if pb, ok := inB[k]; ok {
			if pb.Version == pa.Version {
				continue
			}
			c.Kind, c.VersionB = Changed, pb.Version
		}
		out = append(out, c)
	}
	for k, pb := range inB {
		if _, ok := inA[k]; !ok {
			out = append(out, PackageChange{Kind: Added, Name: pb.Name, Ecosystem: pb.Ecosystem, Path: pb.Path, VersionB: pb.Version})
		}
	}
	slices.SortFunc(out, func(x, y PackageChange) int {
		return cmp.Or(cmp.Compare(x.Ecosystem, y.Ecosystem), cmp.Compare(x.Name, y.Name), cmp.Compare(x.Path, y.Path))
	})
	return out
}

// MatchFindings matches both images' packages against the OSV advisories
// of dir (as strata scan does) and sets r.Findings to those that apply to
// one image only. It returns the scans' warnings.
func (r *Result) MatchFindings(dir string) ([]string, error) {
	ra, err := vuln.Scan(r.sbomA, dir)
	if err != nil {
		return nil, err
	}
	rb, err := vuln.Scan(r.sbomB, dir)
	if err != nil {
		return nil, err
	}
	// A finding is one advisory for one version of one package at one
	// path, whichever layer ships it.
	key := func(f *vuln.Finding) string {
		return f.ID + "\x00" + f.Ecosystem + "\x00" + f.Package + "\x00" + f.Path + "\x00" + f.Installed
	}
	present := func(fs []vuln.Finding) map[string]bool {
		m := map[string]bool{}
		for i := range fs {
			if fs[i].Present() {
				m[key(&fs[i])] = true
			}
		}
		return m
	}
	inA, inB := present(ra.Findings), present(rb.Findings)
	shippedInB := map[string]int{}
	for i := range rb.Findings {
		if f := &rb.Findings[i]; !f.Present() {
			shippedInB[key(f)] = f.Layer
		}
	}
	r.Findings = []FindingChange{}
	for _, f := range ra.Findings {
		if f.Present() && !inB[key(&f)] {
			shipped, ok := shippedInB[key(&f)]
			if !ok {
				shipped = -1
			}
			r.Findings = append(r.Findings, FindingChange{Change: "fixed", Finding: f, ShippedInB: shipped})
		}
	}
	for _, f := range rb.Findings {
		if f.Present() && !inA[key(&f)] {
			r.Findings = append(r.Findings, FindingChange{Change: "added", Finding: f, ShippedInB: f.Layer})
		}
	}
	return append(ra.Warnings, rb.Warnings...), nil
}

// Warnings are the files of either image whose packages could not be read.
func (r *Result) Warnings() []string {
	var out []string
	for _, w := range append(slices.Clone(r.sbomA.Warnings), r.sbomB.Warnings...) {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

package vuln

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-dev/strata/internal/sbom"
)

// affects reports whether version v of a package is in an affected
// entry's versions, and the version that fixes it ("" when none is
// known). Ranges are read as the OSV schema says: events in version
// order, "introduced" turns affected on, "fixed" and past "last_affected"
// turn it off. GIT ranges name commits, which a package does not have.
func affects(af *Affected, v string, cmp compareFunc) (bool, string, error) {
	hit := slices.Contains(af.Versions, v)
	fixed := ""
	var firstErr error
	for _, r := range af.Ranges {
		if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
			continue
		}
		in, fix, err := inRange(r.Events, v, cmp)
		if err != nil {
			firstErr = errors.Join(firstErr, err)
			continue
		}
		if in {
			hit = true
			if fixed == "" {
				fixed = fix
			}
		}
	}
	if hit {
		return true, fixed, nil
	}
	return false, "", firstErr
}

// inRange evaluates one range's events for v; fix is the first fixed
// version above v.
func inRange(events []Event, v string, cmp compareFunc) (in bool, fix string, err error) {
	at := func(e Event) string {
		switch {
		case e.Introduced != "":
			return e.Introduced
		case e.Fixed != "":
			return e.Fixed
		case e.LastAffected != "":
			return e.LastAffected
		}
		return e.Limit
	}
	less := func(a, b string) (int, error) {
		if a == "0" || b == "0" {
			return boolCmp(a != "0") - boolCmp(b != "0"), nil
		}
		return cmp(a, b)
	}
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b Event) int {
		c, e := less(at(a), at(b))
		if e != nil && err == nil {
			err = e
		}
		return c
	})
	if err != nil {
		return false, "", err
	}
	for _, e := range sorted {
		c, cerr := less(v, at(e))
		if cerr != nil {
			return false, "", cerr
		}
		switch {
		case e.Introduced != "":
			if e.Introduced == "0" || c >= 0 {
				in = true
			}
		case e.Fixed != "":
			if c >= 0 {
				in = false
			} else if in && fix == "" {
				fix = e.Fixed
			}
		case e.LastAffected != "":
			if c > 0 {
				in = false
			}
		case e.Limit != "":
			if c >= 0 {
				in = false
			}
		}
		if !in {
			fix = ""
		}
	}
	return in, fix, nil
}

func boolCmp(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Finding is one advisory that applies to one package of one layer.
type Finding struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases,omitempty"`
	Summary   string   `json:"summary,omitempty"`
	Severity  string   `json:"severity"`
	Package   string   `json:"package"`
	Source    string   `json:"source,omitempty"`
	Ecosystem string   `json:"ecosystem"`
	Installed string   `json:"installed"`
	Fixed     string   `json:"fixed,omitempty"`
	PURL      string   `json:"purl"`
	Path      string   `json:"path"`
	Layer     int      `json:"layer"`
	// RemovedIn is the layer that hid the package; -1 while present.
	RemovedIn int `json:"removedIn"`
}

// Present reports whether the package is in the final filesystem.
func (f *Finding) Present() bool { return f.RemovedIn < 0 }

// Status says where the package is: "present", or "removed in layer N,
// still shipped".
func (f *Finding) Status() string {
	if f.Present() {
		return "present"
	}
	return fmt.Sprintf("removed in layer %d, still shipped", f.RemovedIn)
}

// rpmEcosystems are the OSV ecosystems of the rpm distributions that
// publish advisories, by os-release ID. Other rpm distributions (CentOS,
// Fedora, SUSE, Mariner) are listed by sbom but not matched.
var rpmEcosystems = map[string]string{
	"almalinux": "AlmaLinux",
	"rocky":     "Rocky Linux",
	"rhel":      "Red Hat",
}

// osvBase is the OSV base ecosystem whose advisories apply to p: its own,
// or for an rpm package its distribution's ("" when none has advisories).
func osvBase(p *sbom.Package, d *sbom.Distro) string {
	if p.Ecosystem != sbom.RPM {
		return p.Ecosystem
	}
	if d == nil {
		return ""
	}
	return rpmEcosystems[d.ID]
}

// releaseApplies reports whether an advisory's ecosystem (with its
// release: "Debian:12", "Alpine:v3.18", "AlmaLinux:9",
// "Red Hat:enterprise_linux:9::appstream") applies to the image's
// release of base. An ecosystem without a release applies to every one.
func releaseApplies(advEco, base string, d *sbom.Distro) bool {
	if advEco == base {
		return true
	}
	if d == nil || d.VersionID == "" {
		return false
	}
	major, _, _ := strings.Cut(d.VersionID, ".")
	switch base {
	case sbom.Debian:
		return advEco == "Debian:"+major
	case sbom.Alpine:
		parts := strings.SplitN(d.VersionID, ".", 3)
		return len(parts) >= 2 && advEco == "Alpine:v"+parts[0]+"."+parts[1]
	case "AlmaLinux", "Rocky Linux":
		return advEco == base+":"+major
	case "Red Hat":
		// Red Hat names a product and stream: enterprise_linux:9 is the
		// release; EUS, AUS and other products are not the image's.
		parts := strings.Split(advEco, ":")
		if len(parts) < 3 || parts[1] != "enterprise_linux" {
			return false
		}
		m, _, _ := strings.Cut(parts[2], ".")
		return m == major
	}
	return false
}

// matchName is the name advisories use for p: the source package of an
// OS package, a normalized PyPI name.
func matchName(p *sbom.Package) string {
	switch p.Ecosystem {
	case sbom.Debian, sbom.Alpine:
		if p.Source != "" {
			return p.Source
		}
	case sbom.PyPI:
		return normalizePyPI(p.Name)
	}
	return p.Name
}

// matchVersion is the version advisories compare for p: a Debian source
// version (binNMU suffixes are the binary's own).
func matchVersion(p *sbom.Package) string {
	if p.Ecosystem == sbom.Debian && p.SourceVersion != "" {
		return p.SourceVersion
	}
	return p.Version
}

// normalizePyPI is PEP 503's name normalization.
func normalizePyPI(n string) string {
	n = strings.ToLower(n)
	var b strings.Builder
	dash := false
	for _, r := range n {
		if r == '-' || r == '_' || r == '.' {
			if !dash {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		dash = false
		b.WriteRune(r)
	}
	return b.String()
}

// Match lists the findings of s's packages in db, by layer, then
// severity, then id. warn is told of versions that cannot be compared.
func Match(s *sbom.SBOM, db *DB, warn func(string)) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for i := range s.Packages {
		p := &s.Packages[i]
		cmp := comparators[p.Ecosystem]
		if cmp == nil {
			continue
		}
		base := osvBase(p, s.Distro)
		name, version := matchName(p), matchVersion(p)
		for _, ref := range db.index[base][indexName(base, name)] {
			af := &ref.adv.Affected[ref.i]
			if !releaseApplies(af.Package.Ecosystem, base, s.Distro) {
				continue // another release's advisory
			}
			hit, fixed, err := affects(af, version, cmp)
			if err != nil {
				warn(fmt.Sprintf("%s: %s %s: %v", ref.adv.ID, p.Name, version, err))
			}
			key := fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%s", ref.adv.ID, p.Name, p.Version, p.Layer, p.Path)
			if !hit || seen[key] {
				continue
			}
			seen[key] = true
			src := ""
			if p.Source != "" && p.Source != p.Name {
				src = p.Source
			}
			out = append(out, Finding{
				ID: ref.adv.ID, Aliases: ref.adv.allAliases(), Summary: ref.adv.Summary,
				Severity: severityOf(ref.adv, af), Package: p.Name, Source: src, Ecosystem: p.Ecosystem,
				Installed: p.Version, Fixed: fixed, PURL: p.PURL, Path: p.Path, Layer: p.Layer, RemovedIn: p.RemovedIn,
			})
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if a.Layer != b.Layer {
			return a.Layer - b.Layer
		}
		if c := severityRank(b.Severity) - severityRank(a.Severity); c != 0 {
			return c
		}
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Package, b.Package)
	})
	return out
}

// indexName is how the db indexes a package name of an ecosystem.
func indexName(eco, name string) string {
	if eco == sbom.PyPI {
		return normalizePyPI(name)
	}
	return name
}

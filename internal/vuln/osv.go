// Package vuln matches an image's packages (internal/sbom) against OSV
// advisories read from a directory, with each ecosystem's own version
// order, and reports each finding with the layer that ships it and
// whether a later layer hid it.
//
// strata never fetches advisories: the directory is filled by Import from
// an osv.dev export (an ecosystem's all.zip) or any directory of OSV JSON
// files, one advisory per file.
package vuln

import (
	"errors"
	"strings"
	"time"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/encoding/protojson"
)

// Advisory is the part of an OSV record (https://ossf.github.io/osv-schema/)
// that matching and reports use, read by ParseAdvisory.
type Advisory struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Upstream []string `json:"upstream,omitempty"`
	// Related is where distributions' own advisories (Red Hat, AlmaLinux,
	// Rocky) name the CVEs they fix.
	Related   []string   `json:"related,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Details   string     `json:"details,omitempty"`
	Withdrawn string     `json:"withdrawn,omitempty"`
	Severity  []Severity `json:"severity,omitempty"`
	Affected  []Affected `json:"affected"`
	// DatabaseSpecific may carry a "severity" word (GitHub's, Alpine's).
	DatabaseSpecific map[string]any `json:"database_specific,omitempty"`
}

// Severity is an OSV severity score: a CVSS vector and its type.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one package an advisory affects, and which versions.
type Affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl,omitempty"`
	} `json:"package"`
	Ranges            []Range        `json:"ranges,omitempty"`
	Versions          []string       `json:"versions,omitempty"`
	Severity          []Severity     `json:"severity,omitempty"`
	EcosystemSpecific map[string]any `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  map[string]any `json:"database_specific,omitempty"`
}

// Range is a list of events over one version order.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one point of a Range: exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// ParseAdvisory reads one OSV JSON record with the schema's own Go
// bindings (protojson; fields this version of the schema does not know are
// left out), and keeps what matching and reports use.
func ParseAdvisory(data []byte) (*Advisory, error) {
	var v osvschema.Vulnerability
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &v); err != nil {
		return nil, err
	}
	if v.GetId() == "" {
		return nil, errors.New("not an OSV record: no id")
	}
	a := &Advisory{
		ID: v.GetId(), Aliases: v.GetAliases(), Upstream: v.GetUpstream(), Related: v.GetRelated(),
		Summary: v.GetSummary(), Details: v.GetDetails(), Severity: scores(v.GetSeverity()),
		DatabaseSpecific: v.GetDatabaseSpecific().AsMap(),
	}
	if w := v.GetWithdrawn(); w != nil {
		a.Withdrawn = w.AsTime().Format(time.RFC3339)
	}
	for _, af := range v.GetAffected() {
		x := Affected{
			Versions: af.GetVersions(), Severity: scores(af.GetSeverity()),
			EcosystemSpecific: af.GetEcosystemSpecific().AsMap(), DatabaseSpecific: af.GetDatabaseSpecific().AsMap(),
		}
		x.Package.Ecosystem, x.Package.Name, x.Package.PURL = af.GetPackage().GetEcosystem(), af.GetPackage().GetName(), af.GetPackage().GetPurl()
		if x.Package.Ecosystem == "" || x.Package.Name == "" {
			return nil, errors.New(a.ID + ": an affected package without ecosystem or name")
		}
		for _, r := range af.GetRanges() {
			rg := Range{Type: r.GetType().String()}
			for _, e := range r.GetEvents() {
				rg.Events = append(rg.Events, Event{Introduced: e.GetIntroduced(), Fixed: e.GetFixed(), LastAffected: e.GetLastAffected(), Limit: e.GetLimit()})
			}
			x.Ranges = append(x.Ranges, rg)
		}
		a.Affected = append(a.Affected, x)
	}
	return a, nil
}

func scores(ss []*osvschema.Severity) []Severity {
	var out []Severity
	for _, s := range ss {
		out = append(out, Severity{Type: s.GetType().String(), Score: s.GetScore()})
	}
	return out
}

// baseEcosystem is an OSV ecosystem without its release: "Debian:12" ->
// "Debian", "Alpine:v3.18" -> "Alpine".
func baseEcosystem(e string) string {
	b, _, _ := strings.Cut(e, ":")
	return b
}

// allAliases are the advisory's other names (aliases, then upstream and
// related ids).
func (a *Advisory) allAliases() []string {
	out := append([]string(nil), a.Aliases...)
	for _, u := range append(append([]string(nil), a.Upstream...), a.Related...) {
		if u != a.ID && !contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

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
	"encoding/json"
	"errors"
	"strings"
)

// Advisory is the part of an OSV record (https://ossf.github.io/osv-schema/)
// that matching and reports use.
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

// ParseAdvisory reads one OSV JSON record.
func ParseAdvisory(data []byte) (*Advisory, error) {
	var a Advisory
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	if a.ID == "" {
		return nil, errors.New("not an OSV record: no id")
	}
	for _, af := range a.Affected {
		if af.Package.Ecosystem == "" || af.Package.Name == "" {
			return nil, errors.New(a.ID + ": an affected package without ecosystem or name")
		}
	}
	return &a, nil
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

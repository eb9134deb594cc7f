package vuln

import (
	"math"
	"strings"
)

// Severities, highest first; UNKNOWN when an advisory states none.
var severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}

func severityRank(s string) int {
	for i, x := range severities {
		if x == s {
			return len(severities) - i
		}
	}
	return 0
}

// severityOf reads an advisory's severity for one affected package: a
// word the database states (GitHub's "MODERATE", Debian's urgency), else
// the rating of its CVSS v3 base score.
func severityOf(a *Advisory, af *Affected) string {
	for _, m := range []map[string]any{af.EcosystemSpecific, af.DatabaseSpecific, a.DatabaseSpecific} {
		for _, k := range []string{"severity", "urgency"} {
			if s, ok := m[k].(string); ok {
				if w := severityWord(s); w != "" {
					return w
				}
			}
		}
	}
	// Red Hat and its rebuilds start the summary with the rating:
	// "Important: openssl security update".
	if word, _, ok := strings.Cut(a.Summary, ":"); ok {
		if w := severityWord(word); w != "" {
			return w
		}
	}
	for _, ss := range [][]Severity{af.Severity, a.Severity} {
		for _, s := range ss {
			if s.Type == "CVSS_V3" {
				if score, ok := cvss3(s.Score); ok {
					return rating(score)
				}
			}
		}
	}
	return "UNKNOWN"
}

// severityWord maps the words databases use to the four levels.
func severityWord(s string) string {
	switch strings.ToUpper(strings.TrimSpace(strings.TrimSuffix(s, "*"))) {
	case "CRITICAL":
		return "CRITICAL"
	case "HIGH", "IMPORTANT":
		return "HIGH"
	case "MEDIUM", "MODERATE":
		return "MEDIUM"
	case "LOW", "UNIMPORTANT", "NEGLIGIBLE":
		return "LOW"
	}
	return ""
}

// rating is the CVSS v3 qualitative rating of a base score.
func rating(score float64) string {
	switch {
	case score >= 9:
		return "CRITICAL"
	case score >= 7:
		return "HIGH"
	case score >= 4:
		return "MEDIUM"
	case score > 0:
		return "LOW"
	}
	return "UNKNOWN"
}

// cvss3 computes the base score of a CVSS v3.0/v3.1 vector, with the
// specification's formulas and round-up.
func cvss3(vector string) (float64, bool) {
	parts := strings.Split(vector, "/")
	if len(parts) < 9 || !strings.HasPrefix(parts[0], "CVSS:3") {
		return 0, false
	}
	m := map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, ":")
		if !ok {
			return 0, false
		}
		m[k] = v
	}
	weights := map[string]map[string]float64{
		"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
		"AC": {"L": 0.77, "H": 0.44},
		"UI": {"N": 0.85, "R": 0.62},
		"C":  {"H": 0.56, "L": 0.22, "N": 0},
		"I":  {"H": 0.56, "L": 0.22, "N": 0},
		"A":  {"H": 0.56, "L": 0.22, "N": 0},
	}
	w := map[string]float64{}
	for k, table := range weights {
		v, ok := table[m[k]]
		if !ok {
			return 0, false
		}
		w[k] = v
	}
	changed := m["S"] == "C"
	if !changed && m["S"] != "U" {
		return 0, false
	}
	pr := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}
	if changed {
		pr = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}
	}
	prw, ok := pr[m["PR"]]
	if !ok {
		return 0, false
	}
	iss := 1 - (1-w["C"])*(1-w["I"])*(1-w["A"])
	impact := 6.42 * iss
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	if impact <= 0 {
		return 0, true
	}
	expl := 8.22 * w["AV"] * w["AC"] * prw * w["UI"]
	if changed {
		return roundUp(math.Min(1.08*(impact+expl), 10)), true
	}
	return roundUp(math.Min(impact+expl, 10)), true
}

// roundUp is CVSS v3.1's Roundup: the smallest one-decimal number not
// below x, computed on integers to avoid float noise.
func roundUp(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

package analyze

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
	"gopkg.in/yaml.v3"
)

// Rules are dive's CI rules. An empty value, "disabled", "off" or "false"
// disables a rule, as in dive.
type Rules struct {
	LowestEfficiency         string
	HighestWastedBytes       string
	HighestUserWastedPercent string
}

// DefaultRules are dive's defaults.
func DefaultRules() Rules {
	return Rules{LowestEfficiency: "0.9", HighestWastedBytes: "disabled", HighestUserWastedPercent: "0.1"}
}

// LoadRules reads a .strata-ci.yaml or a dive .dive-ci file on top of r:
//
//	rules:
//	  lowest-efficiency: 0.95        # or dive's lowestEfficiency
//	  highest-wasted-bytes: 20MB     # or highestWastedBytes
//	  highest-user-wasted-percent: 0.2  # or highestUserWastedPercent
//
// Unknown keys (dive's plugin rules) are ignored.
func LoadRules(path string, r Rules) (Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	var doc struct {
		Rules map[string]yaml.Node `yaml:"rules"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	for k, v := range doc.Rules {
		var dst *string
		switch k {
		case "lowest-efficiency", "lowestEfficiency":
			dst = &r.LowestEfficiency
		case "highest-wasted-bytes", "highestWastedBytes":
			dst = &r.HighestWastedBytes
		case "highest-user-wasted-percent", "highestUserWastedPercent":
			dst = &r.HighestUserWastedPercent
		default:
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return r, fmt.Errorf("%s: rule %s is not a value", path, k)
		}
		*dst = v.Value
	}
	return r, nil
}

func disabled(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "disabled", "off", "false":
		return true
	}
	return false
}

func ratio(name, v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("%s: want a ratio between 0 and 1, got %q", name, v)
	}
	return f, nil
}

// RuleResult is one rule's verdict.
type RuleResult struct {
	Rule    string `json:"rule"`
	Status  string `json:"status"` // PASS, FAIL, SKIP
	Message string `json:"message,omitempty"`
}

// Evaluate checks r against the rules, as dive does: efficiency below the
// lowest, wasted bytes or user wasted percent above the highest fail. It
// fails on a rule it cannot read, before judging anything.
func Evaluate(res *Result, r Rules) ([]RuleResult, bool, error) {
	var out []RuleResult
	pass := true
	var errs []error
	add := func(name string, failed bool, msg string) {
		st := "PASS"
		if failed {
			st, pass = "FAIL", false
		}
		out = append(out, RuleResult{Rule: name, Status: st, Message: msg})
	}
	if disabled(r.LowestEfficiency) {
		out = append(out, RuleResult{Rule: "lowest-efficiency", Status: "SKIP", Message: "disabled"})
	} else if t, err := ratio("lowest-efficiency", r.LowestEfficiency); err != nil {
		errs = append(errs, err)
	} else {
		add("lowest-efficiency", t > res.Efficiency, fmt.Sprintf("efficiency=%.4f, threshold=%v", res.Efficiency, t))
	}
	if disabled(r.HighestWastedBytes) {
		out = append(out, RuleResult{Rule: "highest-wasted-bytes", Status: "SKIP", Message: "disabled"})
	} else if t, err := humanize.ParseBytes(r.HighestWastedBytes); err != nil {
		errs = append(errs, fmt.Errorf("highest-wasted-bytes: want a size like 20MB, got %q", r.HighestWastedBytes))
	} else {
		add("highest-wasted-bytes", uint64(res.WastedBytes) > t, fmt.Sprintf("wasted-bytes=%d, threshold=%d", res.WastedBytes, t))
	}
	if disabled(r.HighestUserWastedPercent) {
		out = append(out, RuleResult{Rule: "highest-user-wasted-percent", Status: "SKIP", Message: "disabled"})
	} else if t, err := ratio("highest-user-wasted-percent", r.HighestUserWastedPercent); err != nil {
		errs = append(errs, err)
	} else {
		// NaN (no user bytes, nothing wasted) passes, as in dive.
		add("highest-user-wasted-percent", float64(res.WastedUserPercent) > t,
			fmt.Sprintf("user-wasted-percent=%.4f, threshold=%v", float64(res.WastedUserPercent), t))
	}
	if len(errs) > 0 {
		return nil, false, errors.Join(errs...)
	}
	return out, pass, nil
}

// WriteRules prints the verdicts and the overall result.
func WriteRules(w io.Writer, rs []RuleResult, pass bool) {
	fmt.Fprintln(w, "\nCI rules:")
	fails, skips := 0, 0
	for _, r := range rs {
		fmt.Fprintf(w, "  %-4s  %s (%s)\n", r.Status, r.Rule, r.Message)
		switch r.Status {
		case "FAIL":
			fails++
		case "SKIP":
			skips++
		}
	}
	verdict := "PASS"
	if !pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s [pass:%d fail:%d skip:%d]\n", verdict, len(rs)-fails-skips, fails, skips)
}

package cli

import (
	"strings"
	"testing"
	"time"
)

// TestParsePruneFilters: until= as docker reads it; label= and label!= are
// taken, other keys refused as docker refuses them (`docker image prune
// --filter bogus=1`: Invalid filter 'bogus').
func TestParsePruneFilters(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		filters []string
		want    time.Time
		err     string
	}{
		{nil, time.Time{}, ""},
		{[]string{"until=24h"}, now.Add(-24 * time.Hour), ""},
		{[]string{"until=90m"}, now.Add(-90 * time.Minute), ""},
		{[]string{"until=1700000000"}, time.Unix(1700000000, 0), ""},
		{[]string{"until=2026-01-02T03:04:05Z"}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ""},
		{[]string{"label=a=b", "label!=c"}, time.Time{}, ""},
		{[]string{"until=yesterday"}, time.Time{}, `failed to parse value as time or duration: "yesterday"`},
		{[]string{"bogus=1"}, time.Time{}, "Invalid filter 'bogus'"},
		{[]string{"until"}, time.Time{}, "bad format of filter (expected name=value)"},
	}
	for _, tc := range tests {
		p, err := parsePruneFilters(tc.filters, now)
		got := p.until
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err %v, want %q", tc.filters, err, tc.err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%v: %v %v, want %v", tc.filters, got, err, tc.want)
		}
	}
}

// TestSystemPruneUntil: --filter until keeps what is newer than the bound,
// and a refused filter changes nothing.
func TestSystemPruneUntil(t *testing.T) {
	root := fixture(t)
	before, _, _ := strata(t, root, "", "images", "-a", "-q")
	if _, errOut, code := strata(t, root, "", "system", "prune", "-a", "-f", "--filter", "bogus=x"); code == 0 || !strings.Contains(errOut, "Invalid filter 'bogus'") {
		t.Fatalf("an unknown filter: exit %d %q", code, errOut)
	}
	// The fixture's images were created in 2026-01: a bound before that keeps them all.
	mustRun(t, root, "system", "prune", "-a", "-f", "--filter", "until=2025-12-01T00:00:00Z")
	if after, _, _ := strata(t, root, "", "images", "-a", "-q"); after != before {
		t.Errorf("until before every image removed some:\n%s\nwas\n%s", after, before)
	}
	mustRun(t, root, "system", "prune", "-a", "-f", "--filter", "until=1h")
	if after, _, _ := strata(t, root, "", "images", "-a", "-q"); after != "" {
		t.Errorf("until=1h left images:\n%s", after)
	}
	fsckClean(t, root)
}

package vuln

import (
	"strings"
	"testing"

	// The library strata read npm versions with before compareNpm: here
	// the reference only, imported from tests alone, so not linked into
	// strata (its init compiled two regexps at every start).
	msemver "github.com/Masterminds/semver/v3"
)

// refNpm is Masterminds' strict reading of v, with numbers past 2^64-1
// made small: semantic versioning sets no limit to them (x/mod/semver has
// none) where Masterminds refuses a MAJOR, MINOR or PATCH past it and
// orders a pre-release identifier past it as a string. Made small, the
// version is as valid as before, though not in the same order (see
// hugeNumber). Masterminds' limit of 256 bytes, which compareNpm keeps,
// is on the version as given.
func refNpm(v string) (*msemver.Version, error) {
	s := strings.TrimPrefix(v, "v")
	if len(s) > msemver.MaxVersionLen {
		return nil, msemver.ErrVersionTooLong
	}
	return msemver.StrictNewVersion(shrinkNumbers(s))
}

// checkNpm compares compareNpm with Masterminds' StrictNewVersion and
// Compare on a and b: both read them or both refuse, and they order them
// alike (but where a number is past Masterminds' 2^64-1). The order is
// antisymmetric whatever the input.
func checkNpm(t *testing.T, a, b string) {
	t.Helper()
	for _, v := range []string{a, b} {
		_, own := npmVersion(v)
		if _, lib := refNpm(v); (own == nil) != (lib == nil) {
			t.Fatalf("%q: compareNpm says %v, Masterminds %v", v, own, lib)
		}
	}
	got, err := compareNpm(a, b)
	if err != nil {
		return
	}
	if back, _ := compareNpm(b, a); sign(back) != -sign(got) {
		t.Fatalf("%s vs %s: %d, but %d the other way", a, b, got, back)
	}
	if hugeNumber(a) || hugeNumber(b) {
		return
	}
	va, _ := refNpm(a)
	vb, _ := refNpm(b)
	if want := va.Compare(vb); sign(got) != sign(want) {
		t.Fatalf("%s vs %s: %d, Masterminds %d", a, b, got, want)
	}
}

// TestNpmSemver holds compareNpm to Masterminds on osv-scalibr's semver
// fixture (each line's pair both ways, and each version against the next
// lines') and on forms strict semver refuses and x/mod/semver alone
// would not.
func TestNpmSemver(t *testing.T) {
	versions := fixtureVersions(t, "semver")
	for i, a := range versions {
		for _, b := range versions[i:min(i+8, len(versions))] {
			checkNpm(t, a, b)
			checkNpm(t, b, a)
		}
	}
	long := "1.0.0-" + strings.Repeat("a", 251)
	for _, bad := range []string{"1", "v1", "1.2", "v1.2", "1.2-rc.1", "1.2+b", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.3-a..b",
		"vv1.2.3", "1.2.3.4", " 1.2.3", "1.2.3-\u212a", long} {
		if _, err := npmVersion(bad); err == nil {
			t.Errorf("%q read", bad)
		}
		checkNpm(t, bad, "1.0.0")
	}
	// Semantic versioning sets no limit to numbers; Masterminds does.
	for _, tc := range [][2]string{{"18446744073709551615.0.0", "18446744073709551616.0.0"}, {"1.0.0-18446744073709551616", "1.0.0-x"}} {
		if c, err := compareNpm(tc[0], tc[1]); err != nil || c >= 0 {
			t.Errorf("%s vs %s: %d, %v (want <0)", tc[0], tc[1], c, err)
		}
	}
	if _, err := msemver.StrictNewVersion("18446744073709551616.0.0"); err == nil {
		t.Error("Masterminds reads numbers past 2^64-1 now: refNpm need not make them small")
	}
}

// FuzzNpmSemver compares compareNpm with Masterminds on any two strings
// (seeded with the fixture's versions).
func FuzzNpmSemver(f *testing.F) {
	for _, s := range [][2]string{
		{"1.0.0-alpha", "1.0.0-alpha.1"}, {"v1.2.3+build", "1.2.3"}, {"1.2.3-a.b.c.10.d.5", "1.2.3-a.b.c.5.d.100"},
		{"0.0.0-0", "0.0.0--"}, {"1.2", "v1.2.3-rc.1+b.2"},
	} {
		f.Add(s[0], s[1])
	}
	addFixtureSeeds(f, "semver")
	f.Fuzz(func(t *testing.T, a, b string) {
		checkNpm(t, a, b)
	})
}

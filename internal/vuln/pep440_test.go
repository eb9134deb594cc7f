package vuln

import (
	"os"
	"strconv"
	"strings"
	"testing"

	// The library strata read PyPI versions with before pep440.go: here
	// the reference only, imported from tests alone, so not linked into
	// strata (its init compiled a regexp at every start).
	pep440 "github.com/aquasecurity/go-pep440-version"
)

// refPEP440 is the library's order of a and b, on the inputs where the
// library departs from PEP 440 made into ones it reads as PEP 440 does
// (pep440Reference).
func refPEP440(a, b string) (int, error) {
	va, err := pep440.Parse(pep440Reference(a))
	if err != nil {
		return 0, err
	}
	vb, err := pep440.Parse(pep440Reference(b))
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// pep440Reference rewrites v for the library where the library and PEP
// 440 disagree, and parsePEP440 follows the PEP:
//   - a local version's "-" and "_" separate segments as "." does
//     (PEP 440, "Local version segments" under Normalization; packaging
//     splits at [._-]); the library keeps "ubuntu-1" as one segment, so
//     that 1.0+ubuntu-1 != 1.0+ubuntu.1 and they order as strings;
//   - numbers have no limit (packaging reads Python ints); the library
//     refuses any past 2^64-1. Those are made small here, which keeps the
//     validity of the version (though not its order: see hugeNumber).
func pep440Reference(v string) string {
	if pub, local, ok := strings.Cut(v, "+"); ok {
		v = pub + "+" + strings.NewReplacer("-", ".", "_", ".").Replace(local)
	}
	return shrinkNumbers(v)
}

// hugeNumber says whether s has a run of digits past 2^64-1.
func hugeNumber(s string) bool {
	return shrinkNumbers(s) != s
}

// shrinkNumbers replaces each run of digits past 2^64-1 with "1", or
// "01" if it had a leading zero (which semver's validity depends on).
func shrinkNumbers(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j == i {
			b.WriteByte(s[i])
			i++
			continue
		}
		run := s[i:j]
		if _, err := strconv.ParseUint(run, 10, 64); err != nil {
			run = map[bool]string{false: "1", true: "01"}[run[0] == '0']
		}
		b.WriteString(run)
		i = j
	}
	return b.String()
}

// foldsToASCII says whether s has one of the two non-ASCII letters Go's
// (?i) folds to ASCII ones: U+017F (long s, to "s") and U+212A (Kelvin, to
// "k"). The library's case-insensitive regexp takes "1.0+\u212a" for
// "1.0+k" and "1.0.po\u017ft1" for "1.0.post1"; PEP 440 is case-insensitive
// for ASCII letters only, and parsePEP440 refuses them.
func foldsToASCII(s string) bool {
	return strings.ContainsAny(s, "\u017f\u212a")
}

// TestPEP440 is PEP 440's own examples: its summary of the order of
// suffixes, and the forms its Normalization section equates.
func TestPEP440(t *testing.T) {
	// "Summary of permitted suffixes and relative ordering", increasing.
	order := []string{
		"1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
		"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345",
		"1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5",
		"1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1",
		// beyond the PEP's list: epochs, and numbers of any size
		"1.1", "1.18446744073709551615", "1.18446744073709551616", "1.99999999999999999999999", "1!0.1",
	}
	for i, a := range order {
		for j, b := range order {
			c, err := comparePEP440(a, b)
			if err != nil || sign(c) != sign(i-j) {
				t.Errorf("%s vs %s: %d, %v (want %d)", a, b, c, err, sign(i-j))
			}
		}
	}
	for _, eq := range [][]string{
		{"1.0", "1", "1.0.0", "v1.0", "V1.0", " 1.0\n", "0!1.0", "01.00"},
		{"1.0a1", "1.0A1", "1.0alpha1", "1.0-a1", "1.0_a_1", "1.0.alpha.1", "1.0a01", "1.0ALPHA-1", "1.0a-1"},
		{"1.0a0", "1.0a", "1.0-alpha", "1.0a.", "1.0a-"},
		{"1.0b2", "1.0beta2", "1.0-b-2"},
		{"1.0rc3", "1.0c3", "1.0pre3", "1.0preview3", "1.0-RC-3", "1.0.c.3"},
		{"1.0.post2", "1.0post2", "1.0-post2", "1.0-2", "1.0r2", "1.0rev2", "1.0-rev-2", "1.0_r.2"},
		{"1.0.post0", "1.0.post", "1.0-r", "1.0-0"},
		{"1.0.dev0", "1.0dev", "1.0-dev", "1.0_dev_0", "1.0.DEV"},
		{"1.0a1.post2.dev3", "1.0-a1-2.dev3", "1.0alpha1_rev2-dev3", "1.0a-1-2dev3"},
		{"1.0a0.post0.dev0", "1.0a..post..dev", "1.0a-.r_-dev"},
		{"1.0+ubuntu.1", "1.0+ubuntu-1", "1.0+UBUNTU_1", "1.0+ubuntu.01"},
		{"2!1.0", "02!1.0.0"},
	} {
		for _, a := range eq {
			if c, err := comparePEP440(eq[0], a); err != nil || c != 0 {
				t.Errorf("%s vs %s: %d, %v (want equal)", eq[0], a, c, err)
			}
		}
	}
	for _, bad := range []string{
		"", " ", "v", "a1", "1.", "1..0", "1.0-", "1.0.", "1.0a1a1", "1.0-1-1", "1.0_1", "1.0.1.post1.pre1",
		"1.0.dev1.post1", "1.0+", "1.0+a..b", "1.0+-a", "1.0+a-", "1.0+a+b", "1.0+a b", "!1.0", "1!", "1.0 1",
		"1.0-a1+", "vv1.0", "1.0+\u212a", "1.0.po\u017ft1", "1.0\v", "\u00a01.0", "1.0.x", "*", "1.0.*", "1,0",
	} {
		if v, err := parsePEP440(bad); err == nil {
			t.Errorf("%q read as %+v", bad, v)
		}
	}
	// The library's departures (pep440Reference, foldsToASCII), that
	// the fuzzer works around, are as described.
	if pep440.MustParse("1.0+ubuntu-1").Compare(pep440.MustParse("1.0+ubuntu.1")) == 0 {
		t.Errorf("the library reads 1.0+ubuntu-1 as 1.0+ubuntu.1 now: pep440Reference can go")
	}
	for _, v := range []string{"1.18446744073709551616", "1.0+\u212a", "1.0.po\u017ft1"} {
		_, lib := pep440.Parse(v)
		_, own := parsePEP440(v)
		if (lib == nil) == (own == nil) {
			t.Errorf("%q: the library and parsePEP440 agree now (%v, %v)", v, lib, own)
		}
	}
}

// TestPEP440Fixtures holds parsePEP440 to the library on osv-scalibr's
// PyPI fixture: each line's pair both ways, and each version against the
// next lines' (orders across lines too); the same versions read or
// refused.
func TestPEP440Fixtures(t *testing.T) {
	versions := fixtureVersions(t, "pypi")
	n := 0
	for i, a := range versions {
		for _, b := range versions[i:min(i+8, len(versions))] {
			checkPEP440(t, a, b)
			checkPEP440(t, b, a)
			n++
		}
	}
	t.Logf("%d versions, %d pairs", len(versions), n)
}

// fixtureVersions lists the versions of testdata/versions/NAME.txt in the
// order they appear, each line's two in turn.
func fixtureVersions(t *testing.T, name string) []string {
	b, err := os.ReadFile("testdata/versions/" + name + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && !strings.HasPrefix(line, "#") {
			vs = append(vs, f[0], f[2])
		}
	}
	if len(vs) == 0 {
		t.Fatal("no versions")
	}
	return vs
}

// checkPEP440 compares comparePEP440 with the library on a and b: both
// read them or both refuse (but for the library's departures from PEP
// 440, see pep440Reference and foldsToASCII), and they order them alike
// (but where a number is past the library's 2^64-1). The order is
// antisymmetric whatever the input.
func checkPEP440(t *testing.T, a, b string) {
	t.Helper()
	for _, v := range []string{a, b} {
		_, own := parsePEP440(v)
		if foldsToASCII(v) {
			if own == nil {
				t.Fatalf("%q read, with a non-ASCII letter", v)
			}
			continue
		}
		if _, lib := pep440.Parse(pep440Reference(v)); (own == nil) != (lib == nil) {
			t.Fatalf("%q: parsePEP440 says %v, the library %v", v, own, lib)
		}
	}
	got, err := comparePEP440(a, b)
	if err != nil {
		return
	}
	if back, _ := comparePEP440(b, a); sign(back) != -sign(got) {
		t.Fatalf("%s vs %s: %d, but %d the other way", a, b, got, back)
	}
	if hugeNumber(a) || hugeNumber(b) {
		return
	}
	if want, err := refPEP440(a, b); err == nil && sign(got) != sign(want) {
		t.Fatalf("%s vs %s: %d, the library %d", a, b, got, want)
	}
}

// addFixtureSeeds adds each line's pair of testdata/versions/NAME.txt.
func addFixtureSeeds(f *testing.F, name string) {
	b, err := os.ReadFile("testdata/versions/" + name + ".txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v := strings.Fields(line); len(v) == 3 && !strings.HasPrefix(line, "#") {
			f.Add(v[0], v[2])
		}
	}
}

func sign(c int) int { return max(-1, min(1, c)) }

// FuzzPEP440 compares parsePEP440 with the library on any two strings
// (seeded with the fixture's versions and PEP 440's forms).
func FuzzPEP440(f *testing.F) {
	for _, s := range [][2]string{
		{"1.0a1", "1.0"}, {"1!2.0.post1.dev2+local.7", "2.0-1"}, {"1.0_RC-3", "v1.0c3"}, {"1.0+ubuntu-1", "1.0+ubuntu.1"},
		{"1.0a-1", "1.0a0.post1"}, {"1.0.dev", "1.0a..post..dev"}, {" 1.0\t", "1.0+abc.5"}, {"0.12.0rc0", "1.14.0rc1"},
	} {
		f.Add(s[0], s[1])
	}
	addFixtureSeeds(f, "pypi")
	f.Fuzz(func(t *testing.T, a, b string) {
		checkPEP440(t, a, b)
	})
}

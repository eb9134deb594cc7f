package vuln

import (
	"fmt"
	"strings"

	apkversion "github.com/knqyf263/go-apk-version"
	debversion "github.com/knqyf263/go-deb-version"
	rpmversion "github.com/knqyf263/go-rpm-version"
	"golang.org/x/mod/semver"

	"github.com/strata-dev/strata/internal/sbom"
)

// compareFunc orders two versions of one ecosystem: <0, 0, >0, or an
// error for a version the ecosystem's rules cannot read.
type compareFunc func(a, b string) (int, error)

// comparators are the version orders of the ecosystems strata catalogs,
// each from the ecosystem's reference library, but for PyPI's and npm's:
// those are in-house (pep440.go, compareNpm), as their libraries
// compiled regexps at every strata start; the tests hold them to the
// libraries.
var comparators = map[string]compareFunc{
	sbom.Debian: compareDeb,
	sbom.Alpine: compareApk,
	sbom.RPM:    compareRPM,
	sbom.Go:     compareGo,
	sbom.PyPI:   comparePEP440,
	sbom.Npm:    compareNpm,
}

// byParsing is the order of versions that parse reads and cmp orders.
func byParsing[V any](parse func(string) (V, error), cmp func(a, b V) int) compareFunc {
	return func(a, b string) (int, error) {
		va, err := parse(a)
		if err != nil {
			return 0, err
		}
		vb, err := parse(b)
		if err != nil {
			return 0, err
		}
		return cmp(va, vb), nil
	}
}

var (
	compareDeb = byParsing(debversion.NewVersion, func(a, b debversion.Version) int { return a.Compare(b) })
	compareApk = byParsing(apkversion.NewVersion, apkversion.Version.Compare)
)

// compareRPM is rpm's order of [epoch:]version-release (rpmvercmp: "~"
// sorts before anything, "^" after the version it follows).
// An epoch that is not a number or an empty release ("1-") is no
// version an rpm header or an advisory holds: go-rpm-version would read
// "a:1" as "1", so it is an error here.
func compareRPM(a, b string) (int, error) {
	for _, v := range []string{a, b} {
		if err := checkEVR(v); err != nil {
			return 0, err
		}
	}
	return rpmversion.NewVersion(a).Compare(rpmversion.NewVersion(b)), nil
}

func checkEVR(v string) error {
	if e, rest, ok := strings.Cut(v, ":"); ok {
		if e == "" || strings.Trim(e, "0123456789") != "" {
			return fmt.Errorf("%q: the epoch is not a number", v)
		}
		v = rest
	}
	if _, rel, ok := strings.Cut(v, "-"); ok && rel == "" {
		return fmt.Errorf("%q: an empty release", v)
	}
	return nil
}

// compareGo orders Go module versions: semver with a "v", which OSV's Go
// records leave out and buildinfo has.
func compareGo(a, b string) (int, error) {
	va, vb := "v"+strings.TrimPrefix(a, "v"), "v"+strings.TrimPrefix(b, "v")
	for _, v := range []string{va, vb} {
		if !semver.IsValid(v) {
			return 0, fmt.Errorf("%q is not a semantic version", v)
		}
	}
	return semver.Compare(va, vb), nil
}

// compareNpm is strict semantic versioning, as npm's node-semver reads a
// published version: exactly MAJOR.MINOR.PATCH, then an optional
// -prerelease and +build, no leading zeros; a leading "v" is tolerated.
// x/mod/semver does the reading and ordering (it is linked for Go
// modules anyway) rather than github.com/Masterminds/semver, which
// compiled two regexps at every strata start; x/mod accepts the "v1" and
// "v1.2" shorthands, which strict semver does not. The tests check this
// against Masterminds' StrictNewVersion and Compare (semver_test.go).
var compareNpm = byParsing(npmVersion, semver.Compare)

// maxNpmVersion is Masterminds' MaxVersionLen, kept: no published
// version comes near it, and nothing longer is worth reading.
const maxNpmVersion = 256

func npmVersion(v string) (string, error) {
	s := strings.TrimPrefix(v, "v")
	core, _, _ := strings.Cut(s, "+")
	core, _, _ = strings.Cut(core, "-")
	if len(s) > maxNpmVersion || strings.Count(core, ".") != 2 || !semver.IsValid("v"+s) {
		return "", fmt.Errorf("%q is not a strict semantic version", v)
	}
	return "v" + s, nil
}

package vuln

import (
	"fmt"
	"strings"

	msemver "github.com/Masterminds/semver/v3"
	pep440 "github.com/aquasecurity/go-pep440-version"
	apkversion "github.com/knqyf263/go-apk-version"
	debversion "github.com/knqyf263/go-deb-version"
	"golang.org/x/mod/semver"

	"github.com/strata-dev/strata/internal/sbom"
)

// compareFunc orders two versions of one ecosystem: <0, 0, >0, or an
// error for a version the ecosystem's rules cannot read.
type compareFunc func(a, b string) (int, error)

// comparators are the version orders of the ecosystems strata catalogs,
// each from the ecosystem's reference library.
var comparators = map[string]compareFunc{
	sbom.Debian: compareDeb,
	sbom.Alpine: compareApk,
	sbom.Go:     compareGo,
	sbom.PyPI:   comparePEP440,
	sbom.Npm:    compareNpm,
}

func compareDeb(a, b string) (int, error) {
	va, err := debversion.NewVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := debversion.NewVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

func compareApk(a, b string) (int, error) {
	va, err := apkversion.NewVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := apkversion.NewVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
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

func comparePEP440(a, b string) (int, error) {
	va, err := pep440.Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := pep440.Parse(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

func compareNpm(a, b string) (int, error) {
	va, err := msemver.StrictNewVersion(strings.TrimPrefix(a, "v"))
	if err != nil {
		return 0, err
	}
	vb, err := msemver.StrictNewVersion(strings.TrimPrefix(b, "v"))
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

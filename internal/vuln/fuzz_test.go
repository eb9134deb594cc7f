package vuln

import (
	"os"
	"testing"

	"github.com/strata-dev/strata/internal/sbom"
)

func FuzzParseAdvisory(f *testing.F) {
	for _, p := range []string{"testdata/db/Go/GO-2023-2102.json", "testdata/db/Debian/DSA-5514-1.json", "testdata/db/Go/BROKEN-1.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAdvisory(b)
		if err != nil {
			return
		}
		// Whatever the record says, matching it ends without panicking.
		for i := range a.Affected {
			for _, cmp := range comparators {
				affects(&a.Affected[i], "1.2.3", cmp)
			}
			severityOf(a, &a.Affected[i])
		}
	})
}

// FuzzAffects feeds arbitrary versions to each ecosystem's order.
func FuzzAffects(f *testing.F) {
	f.Add("1.0.0", "0", "1.2.0", "1.1.0")
	f.Add("2.36-9+deb12u1", "2.36-1", "2.36-9+deb12u3", "")
	f.Add("3.1.3-r0", "0", "3.1.4-r0", "3.1.3")
	f.Fuzz(func(t *testing.T, v, introduced, fixed, last string) {
		af := &Affected{Ranges: []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: introduced}, {Fixed: fixed}, {LastAffected: last}}}}}
		for _, eco := range []string{sbom.Debian, sbom.Alpine, sbom.Go, sbom.PyPI, sbom.Npm} {
			affects(af, v, comparators[eco])
		}
	})
}

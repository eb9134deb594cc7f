package imagediff

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// TestPackagesAndFindings compares a Debian 12 image with its update:
// glibc upgraded past DSA-5514-1, zlib1g removed, lodash 4.17.20 added
// (GHSA-35jh-r3h4-6jhm), with the vuln package's test advisories.
func TestPackagesAndFindings(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	osRelease, status := read("../sbom/testdata/os-release-debian"), read("../sbom/testdata/dpkg-status")
	updated := strings.ReplaceAll(status, "2.36-9+deb12u1", "2.36-9+deb12u3")
	updated = strings.Replace(updated, "Package: zlib1g\n", "Package: zlib1g-gone\n", 1)
	updated = strings.Replace(updated, "Package: zlib1g-gone\nStatus: install ok installed", "Package: zlib1g-gone\nStatus: purge ok not-installed", 1)
	base := testutil.Tar(t, testutil.File("etc/os-release", osRelease), testutil.File("var/lib/dpkg/status", status))
	update := testutil.Tar(t, testutil.File("var/lib/dpkg/status", updated),
		testutil.File("app/node_modules/lodash/package.json", `{"name": "lodash", "version": "4.17.20"}`))

	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := storetest.Image(t, st, nil, "a:1", base)
	b := storetest.Image(t, st, nil, "b:1", base, update)
	res, err := Compare(context.Background(), storetest.Source(t, st, a), storetest.Source(t, st, b))
	if err != nil {
		t.Fatal(err)
	}
	if w := res.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	if _, err := res.MatchFindings("../vuln/testdata/db"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteText(&out, res); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "testdata/packages.golden", out.String())
}
